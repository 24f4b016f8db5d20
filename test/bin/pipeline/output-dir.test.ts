// Saving --output files into an --output-dir that may hold an earlier run's.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { outputPlaceProblem, saveOutput, savedOutputPath } from "../../../bin/pipeline/output-dir.js";

const work = mkdtempSync(join(tmpdir(), "output-dir-"));
test.after(() => rmSync(work, { recursive: true, force: true }));
/** What collect brought back (its bytes; the coordinator has read them from collect's output directory). */
const collected = (_name: string, content: string) => Buffer.from(content);

test("a file is saved under its guest path, parents made", () => {
  const out = join(work, "fresh");
  const saved = saveOutput(out, "/bench/result.json", collected("a", "new\n"));
  assert.is(saved, join(out, "bench", "result.json"));
  assert.is(readFileSync(saved!, "utf8"), "new\n");
});

test("an earlier run's file is replaced; one this run did not bring back is removed; others stay", () => {
  const out = join(work, "rerun");
  mkdirSync(join(out, "bench"), { recursive: true });
  writeFileSync(join(out, "bench", "result.json"), "old result\n");
  writeFileSync(join(out, "bench", "log.txt"), "old log\n");
  writeFileSync(join(out, "notes.txt"), "the user's own\n");
  saveOutput(out, "/bench/result.json", collected("b", "new result\n"));
  assert.is(saveOutput(out, "/bench/log.txt", null), null);
  assert.is(readFileSync(join(out, "bench", "result.json"), "utf8"), "new result\n");
  assert.not.ok(existsSync(join(out, "bench", "log.txt")), "a stale log would pass for this run's");
  assert.is(readFileSync(join(out, "notes.txt"), "utf8"), "the user's own\n", "files no --output names are not touched");
});

test("a symlink at the file's place is replaced, never written through", () => {
  const out = join(work, "linked");
  mkdirSync(out);
  const elsewhere = join(work, "elsewhere.txt");
  writeFileSync(elsewhere, "not to be overwritten\n");
  symlinkSync(elsewhere, join(out, "result.json"));
  saveOutput(out, "/result.json", collected("c", "mine\n"));
  assert.is(readFileSync(elsewhere, "utf8"), "not to be overwritten\n");
  assert.is(readFileSync(join(out, "result.json"), "utf8"), "mine\n");
  assert.throws(() => readlinkSync(join(out, "result.json")), "a plain file now");
});

test("a directory at the file's place is refused, one line naming both paths", () => {
  const out = join(work, "dir-in-way");
  mkdirSync(join(out, "result.json"), { recursive: true });
  writeFileSync(join(out, "result.json", "keep"), "x");
  assert.throws(() => saveOutput(out, "/result.json", collected("d", "x")),
    (err: Error) => err.message.startsWith(`output-dir: could not save /result.json as ${join(out, "result.json")}: `));
  assert.ok(existsSync(join(out, "result.json", "keep")), "nothing of the user's removed");
  assert.is(savedOutputPath(out, "/result.json"), join(out, "result.json"));
});

test("what is in an output's way is found before the run: a file for a directory, a directory for the file", () => {
  const out = join(work, "in-the-way");
  mkdirSync(join(out, "data", "result.json"), { recursive: true });
  writeFileSync(join(out, "bench"), "a file");
  assert.is(outputPlaceProblem(out, "/bench/deep/result.json"),
    `/bench/deep/result.json would be saved as ${join(out, "bench", "deep", "result.json")}, but ${join(out, "bench")} is not a directory`);
  assert.is(outputPlaceProblem(out, "/data/result.json"), `/data/result.json would be saved as ${join(out, "data", "result.json")}, which is a directory`);
  assert.is(outputPlaceProblem(out, "/data/other.json"), null, "a place that is free");
  assert.is(outputPlaceProblem(join(work, "not-made-yet"), "/x/y"), null);
  // The file system's root as the output dir: /proc/version is a file, not a directory.
  assert.is(outputPlaceProblem("/", "/proc/version/x"), "/proc/version/x would be saved as /proc/version/x, but /proc/version is not a directory");
  writeFileSync(join(out, "data", "old.json"), "an earlier run's");
  assert.is(outputPlaceProblem(out, "/data/old.json"), null, "an earlier run's file is replaced, not in the way");
});

test.run();
