// makeDirectory: mkdir -p that names what stopped it and always ends (Node's
// recursive mkdir spins forever under /proc).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeDirectory, MakeDirectoryError } from "../../../lib/fs/make-directory.js";

const scratch = mkdtempSync(join(tmpdir(), "make-directory-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

function failure(fn: () => unknown): MakeDirectoryError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, MakeDirectoryError);
    return err as MakeDirectoryError;
  }
  throw new Error("expected a MakeDirectoryError");
}

test("makes the missing directories and says which, outermost first", () => {
  const deep = join(scratch, "a", "b", "c");
  assert.equal(makeDirectory(deep), [join(scratch, "a"), join(scratch, "a", "b"), deep]);
  assert.ok(statSync(deep).isDirectory());
  assert.equal(makeDirectory(deep), [], "an existing directory is left as it is");
  assert.equal(makeDirectory(join(scratch, "a", "b", "c", ".."), 0o755), []);
});

test("applies the mode (less the umask) to what it makes", () => {
  const old = process.umask(0o022);
  try {
    const dir = join(scratch, "mode", "inner");
    makeDirectory(dir, 0o750);
    assert.is(statSync(dir).mode & 0o777, 0o750);
    assert.is(statSync(join(scratch, "mode")).mode & 0o777, 0o750);
  } finally {
    process.umask(old);
  }
});

test("a file in the way is named, and nothing is made", () => {
  const file = join(scratch, "file");
  writeFileSync(file, "x");
  const err = failure(() => makeDirectory(join(file, "x", "y")));
  assert.is(err.message, `${file} exists and is not a directory`);
  assert.is(err.code, "ENOTDIR");
  assert.is(failure(() => makeDirectory(file)).message, `${file} exists and is not a directory`);
});

test("a dangling symlink in the way", () => {
  const link = join(scratch, "dangling");
  symlinkSync(join(scratch, "nowhere"), link);
  const err = failure(() => makeDirectory(join(link, "out")));
  assert.is(err.message, `cannot create directory ${link}: a dangling symlink or another non-directory is in the way`);
  assert.not.ok(existsSync(join(scratch, "nowhere")));
});

test("a symlink to a directory is followed", () => {
  const real = join(scratch, "real");
  mkdirSync(real);
  symlinkSync(real, join(scratch, "via"));
  assert.equal(makeDirectory(join(scratch, "via", "sub")), [join(scratch, "via", "sub")]);
  assert.ok(statSync(join(real, "sub")).isDirectory());
});

test("under /proc it fails at once instead of spinning (as fs.mkdirSync's recursive mode does)", () => {
  if (!existsSync("/proc/self")) return; // no procfs: nothing to show
  // In a child with a time limit: the loop this guards against blocks its thread for good.
  const moduleUrl = new URL("../../../lib/fs/make-directory.js", import.meta.url).href;
  const script = `import { makeDirectory } from ${JSON.stringify(moduleUrl)};
try { makeDirectory("/proc/bencher-no-such/out"); console.log("made"); } catch (err) { console.log(err.message); }`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { timeout: 20_000, killSignal: "SIGKILL", encoding: "utf8" });
  assert.is(out.trim(), "cannot create directory /proc/bencher-no-such: /proc does not take new directories");
});

test.run();
