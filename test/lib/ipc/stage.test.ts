// serveStage in-process: the protocol loop without a child process.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PassThrough } from "node:stream";
import { serveStage } from "../../../lib/ipc/stage.js";
import { encodeFrame, readFrames } from "../../../lib/ipc/frame.js";

async function serve(input: Buffer, handler: (req: unknown) => Promise<unknown>, parse = (raw: unknown) => raw) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  stdin.end(input);
  const code = await serveStage({ name: "t", parseRequest: parse, handler, input: stdin, output: stdout, signal: new AbortController().signal });
  stdout.end();
  const messages: any[] = [];
  for await (const m of readFrames(stdout)) messages.push(m);
  return { code, messages };
}

const request = (body: unknown) => encodeFrame({ type: "request", body });

test("a result too big for one frame becomes an error the coordinator can read", async () => {
  const { code, messages } = await serve(request(null), async () => ({ blob: Buffer.alloc(65 * 1024 * 1024) }));
  assert.is(code, 0);
  assert.is(messages.length, 1);
  assert.is(messages[0].type, "error");
  assert.match(messages[0].error.message, /exceeds the 67108864-byte limit/);
});

test("an oversized request header is refused without waiting for the body", async () => {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(0xffffffff);
  const { code, messages } = await serve(header, async () => "never");
  assert.is(code, 1);
  assert.match(messages[0].error.message, /exceeds/);
});

test("no request at all is a clear error", async () => {
  const { code, messages } = await serve(Buffer.alloc(0), async () => "never");
  assert.is(code, 1);
  assert.is(messages[0].error.message, "no request: stdin closed before a request frame arrived");
});

test("a message that is not a request, and parseRequest refusing, are errors", async () => {
  const wrong = await serve(encodeFrame({ type: "result", body: 1 }), async () => "never");
  assert.match(wrong.messages[0].error.message, /expected a request message/);
  const refused = await serve(request({}), async () => "never", () => { throw new Error("request.image is missing"); });
  assert.equal(refused.messages[0].error, { stage: "t", name: "Error", message: "request.image is missing" });
});

test("undefined results travel as null; progress fractions are clamped", async () => {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  stdin.end(request(1));
  await serveStage({
    name: "t", parseRequest: (r) => r, input: stdin, output: stdout, signal: new AbortController().signal,
    handler: async (_req, ctx) => { ctx.progress(7, "over"); ctx.progress(Number.NaN, "nan"); return undefined; },
  });
  stdout.end();
  const messages: any[] = [];
  for await (const m of readFrames(stdout)) messages.push(m);
  assert.equal(messages, [
    { type: "progress", fraction: 1, message: "over" },
    { type: "progress", fraction: null, message: "nan" },
    { type: "result", body: null },
  ]);
});

test("stopped before its request arrives, a stage ends at once with the reason as its error", async () => {
  const stdin = new PassThrough(); // the coordinator never sends a request
  const stdout = new PassThrough();
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("t stopped by SIGTERM")), 50);
  let handled = false;
  const code = await serveStage({
    name: "t", parseRequest: (raw) => raw, handler: async () => (handled = true), input: stdin, output: stdout, signal: controller.signal,
  });
  stdout.end();
  const messages: any[] = [];
  for await (const m of readFrames(stdout)) messages.push(m);
  assert.is(code, 1);
  assert.not.ok(handled);
  assert.is(messages.length, 1);
  assert.is(messages[0].type, "error");
  assert.match(messages[0].error.message, /stopped by SIGTERM/);
});

test.run();
