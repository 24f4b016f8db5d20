// The emulated host's second try: a file that failed there runs once more,
// the others do not, and a file that fails twice stays failed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { withSecondTry, type EmulatedFileRun } from "./emulated-host-files.js";

/** A pass whose files fail while `failuresLeft` says so, recording what it was given. */
function flakyPass(failuresLeft: Map<string, number>, passes: string[][]) {
  return async (files: string[]): Promise<EmulatedFileRun[]> => {
    passes.push(files);
    return files.map((file) => {
      const left = failuresLeft.get(file) ?? 0;
      failuresLeft.set(file, left - 1);
      return left > 0 ? { file, out: `${file} failed (${left})`, code: 1, ms: 1 } : { file, out: `${file} passed`, code: 0, ms: 1 };
    });
  };
}

test("only the failed files run again, and their first try's output is kept", async () => {
  const passes: string[][] = [];
  const runs = await withSecondTry(["a", "b", "c"], flakyPass(new Map([["b", 1]]), passes));
  assert.equal(passes, [["a", "b", "c"], ["b"]]);
  assert.equal(runs.map((r) => [r.file, r.code]), [["a", 0], ["b", 0], ["c", 0]]);
  assert.is(runs[1].firstTry, "b failed (1)");
  assert.is(runs[1].out, "b passed");
  assert.is(runs[0].firstTry, undefined);
});

test("a file that fails twice stays failed, and a file that never finished counts as failed", async () => {
  const passes: string[][] = [];
  const pass = flakyPass(new Map([["a", 2]]), passes);
  const neverFinished = async (files: string[]) => (await pass(files)).map((r) => (r.file === "c" && passes.length === 1 ? { ...r, code: null } : r));
  const runs = await withSecondTry(["a", "b", "c"], neverFinished);
  assert.equal(passes, [["a", "b", "c"], ["a", "c"]]);
  assert.equal(runs.map((r) => r.code), [1, 0, 0]);
  assert.is(runs[0].out, "a failed (1)");
  assert.is(runs[0].firstTry, "a failed (2)");
});

test("when all pass, one pass is all", async () => {
  const passes: string[][] = [];
  const runs = await withSecondTry(["a"], flakyPass(new Map(), passes));
  assert.is(passes.length, 1);
  assert.is(runs[0].firstTry, undefined);
});

test.run();
