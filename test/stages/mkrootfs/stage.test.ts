// The mkrootfs stage as a process speaking the stage protocol (main.ts):
// request in, progress and result out; bad requests and aborts end cleanly.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { callStage } from "../../../lib/ipc/call.js";
import { StageError } from "../../../lib/ipc/errors.js";
import { makeUnpackedImage, tempDir, type FixtureEntry } from "./fixture.js";
import { fsck } from "./inspect.js";
import { noise } from "./rich-image.js";

const work = tempDir();
const cacheDir = join(work, "cache");
const main = fileURLToPath(new URL("../../../stages/mkrootfs/main.js", import.meta.url));
const start = () => spawn(process.execPath, [main], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, BENCHER_RUN_CACHE: cacheDir } });
test.after(() => rmSync(work, { recursive: true, force: true }));

test("request → progress → result; the second call is a cache hit", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/bin/sh", type: "file", content: "#!", mode: 0o755 }], metadata: [{ path: "/bin/sh", uid: 3 }] });
  const progress: string[] = [];
  const result = await callStage<{ image: string; fs: string; bytes: number; cacheKey: string; cached: boolean }>(start(), { input }, {
    stage: "mkrootfs",
    onProgress: (_fraction, message) => progress.push(message),
  });
  assert.is(result.cached, false);
  assert.is(result.fs, "ext4");
  assert.ok(result.image.startsWith(join(cacheDir, "rootfs")));
  assert.ok(fsck(result.image).clean);
  assert.ok(progress.includes("mkfs.ext4 -d"), progress.join(", "));
  const again = await callStage<{ cached: boolean; image: string }>(start(), { input }, { stage: "mkrootfs" });
  assert.equal([again.cached, again.image], [true, result.image]);
});

test("a bad request comes back as a StageError naming the field", async () => {
  try {
    await callStage(start(), { input: "/x", fs: "btrfs" }, { stage: "mkrootfs" });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, StageError);
    assert.is((err as StageError).stage, "mkrootfs");
    assert.match((err as Error).message, /fs must be "ext4" or "squashfs", not "btrfs"/);
  }
});

test("aborting mid-build stops the stage and leaves no cache entry", async () => {
  const entries: FixtureEntry[] = Array.from({ length: 200 }, (_, i) => ({ path: `/d/f${i}`, type: "file" as const, content: noise(512 * 1024, `a${i}`) }));
  const input = makeUnpackedImage({ entries });
  const controller = new AbortController();
  const child = start();
  const call = callStage(child, { input }, {
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
  const rootfsCache = join(cacheDir, "rootfs");
  assert.equal(readdirSync(rootfsCache).filter((name) => /\.(ext4|squashfs)$/.test(name) && !name.startsWith("tmp")).length, 1, "only the first test's image");
  const tmp = join(rootfsCache, "tmp");
  assert.equal(existsSync(tmp) ? readdirSync(tmp) : [], []);
});

test.run();
