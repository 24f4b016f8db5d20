// pathAppears: the wait that holds a ready VM until collect's socket exists.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathAppears } from "../../../stages/boot/path-appears.js";

const work = mkdtempSync(join(tmpdir(), "bencher-path-appears-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** Whether the promise has settled by the next turn of the event loop. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

/** The handles that would keep the process alive: a watch left open shows here (a closed one is gone a few loop turns later). */
async function watchHandles(): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 50));
  return process.getActiveResourcesInfo().filter((r) => r === "FSEventWrap" || r === "Timeout");
}

test("resolves once the path is made, not before", async () => {
  const path = join(work, "later");
  const p = pathAppears(path, "holdUntilExists", new AbortController().signal);
  await new Promise((r) => setTimeout(r, 100));
  assert.not.ok(await settled(p), "nothing there yet");
  writeFileSync(path, "");
  await p;
  assert.equal(await watchHandles(), [], "the watch is closed");
});

test("a Unix socket that starts listening (collect's) releases it", async () => {
  const path = join(work, "v_1024");
  const p = pathAppears(path, "holdUntilExists", new AbortController().signal);
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  try {
    await p;
  } finally {
    server.close();
  }
});

test("a path already there resolves at once", async () => {
  const path = join(work, "already");
  writeFileSync(path, "");
  await pathAppears(path, "holdUntilExists", new AbortController().signal);
  assert.equal(await watchHandles(), []);
});

test("a missing or non-directory parent fails at once, in one line naming the field and path", () => {
  assert.throws(() => pathAppears(join(work, "nope", "v_1024"), "holdUntilExists", new AbortController().signal),
    (e: Error) => e.message === `holdUntilExists ${join(work, "nope", "v_1024")}: its directory: ENOENT`);
  const file = join(work, "a-file");
  writeFileSync(file, "");
  assert.throws(() => pathAppears(join(file, "v_1024"), "holdUntilExists", new AbortController().signal), /holdUntilExists .*a-file\/v_1024: .*a-file is not a directory$/);
});

test("stopping the wait closes the watch and the poll; the promise never settles", async () => {
  const stop = new AbortController();
  const p = pathAppears(join(work, "never"), "holdUntilExists", stop.signal);
  assert.ok((await watchHandles()).length > 0, "watching meanwhile");
  stop.abort();
  assert.equal(await watchHandles(), [], "nothing left to keep the process alive");
  writeFileSync(join(work, "never"), "");
  await new Promise((r) => setTimeout(r, 300));
  assert.not.ok(await settled(p));
});

test.run();
