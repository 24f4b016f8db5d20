// The mkrootfs stage as a process speaking the stage protocol (main.ts):
// request in, progress and result out; bad requests and aborts end cleanly.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { callStage } from "../../../lib/ipc/call.js";
import { StageError } from "../../../lib/ipc/errors.js";
import { makeUnpackedImage, tempDir, type FixtureEntry } from "./fixture.js";
import { fsck } from "./inspect.js";
import { noise } from "./rich-image.js";

const work = tempDir();
const main = fileURLToPath(new URL("../../../stages/mkrootfs/main.js", import.meta.url));
const start = () => spawn(process.execPath, [main], { stdio: ["pipe", "pipe", "pipe"] });
test.after(() => rmSync(work, { recursive: true, force: true }));

test("request → progress → result: the image at out", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/bin/sh", type: "file", content: "#!", mode: 0o755 }], metadata: [{ path: "/bin/sh", uid: 3 }] });
  const out = join(work, "first.ext4");
  const progress: string[] = [];
  const result = await callStage<{ image: string; fs: string; bytes: number }>(start(), { input, out }, {
    stage: "mkrootfs",
    onProgress: (_fraction, message) => progress.push(message),
  });
  assert.equal([result.image, result.fs, result.bytes], [out, "ext4", statSync(out).size]);
  assert.ok(fsck(result.image).clean);
  assert.ok(progress.includes("mkfs.ext4 -d"), progress.join(", "));
  assert.equal(readdirSync(work).filter((name) => name.includes("first.ext4")), ["first.ext4"], "no temp file left beside it");
});

test("a bad request comes back as a StageError naming the field", async () => {
  try {
    await callStage(start(), { input: "/x", out: join(work, "x"), fs: "btrfs" }, { stage: "mkrootfs" });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StageError);
    assert.is((err as StageError).stage, "mkrootfs");
    assert.match((err as Error).message, /fs must be "ext4" or "squashfs", not "btrfs"/);
  }
});

test("aborting mid-build stops the stage and leaves no image and no temp file", async () => {
  const entries: FixtureEntry[] = Array.from({ length: 200 }, (_, i) => ({ path: `/d/f${i}`, type: "file" as const, content: noise(512 * 1024, `a${i}`) }));
  const input = makeUnpackedImage({ entries });
  const controller = new AbortController();
  const child = start();
  const out = join(work, "aborted.ext4");
  const call = callStage(child, { input, out }, {
    stage: "mkrootfs",
    signal: controller.signal,
    onProgress: (_fraction, message) => message === "mkfs.ext4 -d" && setTimeout(() => controller.abort(), 50),
  });
  try {
    await call;
    assert.unreachable("should be aborted");
  } catch (err) {
    assert.instance(err, StageError);
  }
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once("exit", resolve)));
  assert.not.ok(existsSync(out));
  assert.equal(readdirSync(work).filter((name) => name.includes("aborted.ext4")), []);
});

test.run();
