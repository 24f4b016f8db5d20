// The serial console log: a guest printing forever fills neither the host's
// disk nor memory, and the tail for the result stays current.
import { test } from "uvu";
import * as assert from "uvu/assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CONSOLE_LOG_MAX_BYTES, ConsoleLog } from "../../../stages/boot/console-log.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "console-log-test-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const line = (i: number) => new TextEncoder().encode(`line ${String(i).padStart(6, "0")}\n`); // 12 bytes

test("the file stops at its limit with a line saying so; the tail and the count go on", () => {
  const file = path.join(tmp, "cut.log");
  const log = new ConsoleLog(file, undefined, 1000);
  for (let i = 0; i < 10_000; i++) log.write(line(i));
  log.close();
  const text = fs.readFileSync(file, "latin1");
  const [kept, note] = [text.slice(0, 1000), text.slice(1000)];
  assert.ok(kept.startsWith("line 000000\nline 000001\n"));
  assert.is(note, "\n[bencher-run: the console log stops here, at its limit of 1000 bytes; the guest printed more]\n");
  assert.ok(log.fileCut);
  assert.is(log.bytesWritten, 120_000);
  assert.ok(log.tailText(24).endsWith("line 009998\nline 009999\n"), "the tail is the guest's latest output");
});

test("output within the limit is written whole and not marked cut", () => {
  const file = path.join(tmp, "whole.log");
  const log = new ConsoleLog(file, undefined, 1200);
  for (let i = 0; i < 100; i++) log.write(line(i));
  log.close();
  assert.is(fs.statSync(file).size, 1200);
  assert.not.ok(log.fileCut);
});

test("the default limit is 64 MiB", () => {
  assert.is(CONSOLE_LOG_MAX_BYTES, 64 * 1024 * 1024);
  assert.is(new ConsoleLog().maxFileBytes, CONSOLE_LOG_MAX_BYTES);
});

test.run();
