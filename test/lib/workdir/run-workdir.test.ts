import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { RunWorkdir, withRunWorkdir, sweepStaleRuns } from "../../../lib/workdir/run-workdir.js";
import { removeTree } from "../../../lib/workdir/remove-tree.js";
import { defaultWorkRoot } from "../../../lib/workdir/work-root.js";
import { execa } from "execa";

const removeTreeModule = new URL("../../../lib/workdir/remove-tree.js", import.meta.url).href;

const root = mkdtempSync(join(tmpdir(), "workdir-test-"));
test.after(() => rmSync(root, { recursive: true, force: true }));

test("withRunWorkdir removes the directory after success and after a failure", async () => {
  let seen = "";
  await withRunWorkdir({ root }, async (w) => {
    seen = w.path;
    writeFileSync(join(w.stageDir("unpack"), "f"), "x");
  });
  assert.not.ok(existsSync(seen));
  try {
    await withRunWorkdir({ root }, async (w) => {
      seen = w.path;
      throw new Error("stage failed");
    });
    assert.unreachable();
  } catch (err) {
    assert.is((err as Error).message, "stage failed");
  }
  assert.not.ok(existsSync(seen));
  assert.equal(readdirSync(root), []);
});

test("keep leaves it; stage directory names are checked", async () => {
  const w = RunWorkdir.create({ root, keep: true });
  assert.throws(() => w.stageDir("../escape"), /invalid work directory name/);
  w.dispose();
  assert.ok(existsSync(w.path));
  rmSync(w.path, { recursive: true });
});

test("removeTree removes read-only directories a stage left (as an ordinary user)", async () => {
  const owned = join(root, "owned");
  const dir = join(owned, "ro");
  mkdirSync(join(dir, "usr", "bin"), { recursive: true });
  writeFileSync(join(dir, "usr", "bin", "tool"), "x");
  chmodSync(join(dir, "usr", "bin"), 0o555);
  chmodSync(join(dir, "usr"), 0o555);
  if (process.getuid!() !== 0) {
    assert.throws(() => rmSync(dir, { recursive: true, force: true }), "positive control: plain rm fails");
    removeTree(dir);
  } else {
    // Root may delete anything; prove it as the ordinary user who owns the tree.
    chmodSync(root, 0o755);
    await execa("chown", ["-R", "65534:65534", owned]);
    const asUser = (code: string) =>
      execa("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", code], { reject: false });
    const plain = await asUser(`import { rmSync } from "node:fs"; rmSync(${JSON.stringify(dir)}, { recursive: true, force: true });`);
    assert.is.not(plain.exitCode, 0, "positive control: plain rm fails for the owner");
    const ours = await asUser(`import { removeTree } from ${JSON.stringify(removeTreeModule)}; removeTree(${JSON.stringify(dir)});`);
    assert.is(ours.exitCode, 0, ours.stderr);
  }
  assert.not.ok(existsSync(dir));
  rmSync(owned, { recursive: true, force: true });
});

test("sweepStaleRuns removes runs of dead coordinators only", () => {
  const dead = join(root, "run-999999999-abc");
  const mine = join(root, `run-${process.pid}-abc`);
  const young = join(root, "run-999999998-abc");
  for (const d of [dead, mine, young]) mkdirSync(d);
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(dead, old, old);
  utimesSync(mine, old, old);
  // A run kept for debugging (--keep) is the user's, however old and whoever made it.
  const kept = RunWorkdir.create({ root, keep: true });
  kept.dispose();
  assert.match(basename(kept.path), /^kept-\d+-/);
  const keptByDead = join(root, "kept-999999997-abc");
  mkdirSync(keptByDead);
  utimesSync(keptByDead, old, old);
  assert.equal(sweepStaleRuns(root), [dead]);
  assert.ok(existsSync(mine) && existsSync(young) && existsSync(kept.path) && existsSync(keptByDead));
  for (const d of [mine, young, kept.path, keptByDead]) rmSync(d, { recursive: true });
});

test("work root: BENCHER_RUN_WORKDIR, else under the cache root", () => {
  const saved = process.env.BENCHER_RUN_WORKDIR;
  process.env.BENCHER_RUN_WORKDIR = "/some/where";
  assert.is(defaultWorkRoot(), "/some/where");
  delete process.env.BENCHER_RUN_WORKDIR;
  assert.match(defaultWorkRoot(), /bencher-run\/runs$/);
  if (saved !== undefined) process.env.BENCHER_RUN_WORKDIR = saved;
});

test.run();
