// `bencher-run pipeline --output-dir` in real runs: with `--iter N`, N runs,
// each in a fresh VM, each reported, each run's files kept apart (run i's in
// <output-dir>/run-i/); a file that cannot be saved fails the run (125) but
// loses nothing else the run produced.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { runCli } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "pipeline-iter-"));
const cleanups: (() => void)[] = [];
process.on("exit", () => {
  for (const cleanup of cleanups) cleanup();
  rmSync(work, { recursive: true, force: true });
});
const env = { BENCHER_RUN_WORKDIR: join(work, "runs") };

test("two runs: two documents, two fresh VMs, each run's file in its own directory", async () => {
  const image = join(work, "iter.oci");
  await buildImage({ base: "busybox", config: { cmd: ["sh", "-c", "cat /proc/sys/kernel/random/boot_id | tee /boot-id"] } }, { format: "oci-dir", out: image });
  const out = join(work, "results");
  const r = await runCli(["pipeline", "--image", image, "--iter", "2", "--json", "--output", "/boot-id", "--output-dir", out], env, 15 * 60_000);
  assert.is(r.exitCode, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { schema: number; runs: { status: number; stdout: string; savedOutputs: Record<string, string> }[] };
  assert.is(doc.schema, 1);
  assert.is(doc.runs.length, 2);
  const ids = doc.runs.map((run) => run.stdout.trim());
  assert.ok(ids.every((id) => /^[0-9a-f-]{36}$/.test(id)), ids.join(" "));
  assert.is.not(ids[0], ids[1], "each run boots a fresh VM (its own boot_id)");
  assert.equal(readdirSync(out).sort(), ["run-1", "run-2"]);
  doc.runs.forEach((run, i) => {
    const saved = join(out, `run-${i + 1}`, "boot-id");
    assert.is(run.savedOutputs["/boot-id"], saved);
    assert.is(readFileSync(saved, "utf8").trim(), ids[i]);
  });
  assert.equal(readdirSync(join(work, "runs")), [], "no run directory left");
});

test("plain mode: a file that did not come back gets a note saying why; the others are saved", async () => {
  const image = join(work, "notes.oci");
  await buildImage({ base: "busybox", config: { cmd: ["sh", "-c", "echo 7 > /seven"] } }, { format: "oci-dir", out: image });
  const out = join(work, "noted");
  const r = await runCli(["pipeline", "--image", image, "--output", "/seven", "--output", "/no/such", "--output", "/proc", "--output-dir", out], env, 15 * 60_000);
  assert.is(r.exitCode, 0, r.stderr);
  assert.equal(r.stderr.split("\n"), [
    "bencher-run: output file /no/such was not brought back: no such file in the guest",
    "bencher-run: output file /proc was not brought back: not a regular file in the guest",
  ]);
  assert.is(readFileSync(join(out, "seven"), "utf8"), "7\n");
});

test("a file that cannot be saved: status 125 and why, the command's output and status still reported", async () => {
  const image = join(work, "save.oci");
  await buildImage({ base: "busybox", config: { cmd: ["sh", "-c", "mkdir -p /bench && echo 42 > /bench/result.json && echo done"] } }, { format: "oci-dir", out: image });
  // Nothing in the way when the run starts (that is refused up front), but a
  // directory even root cannot write in: the save fails after the run.
  const out = join(work, "blocked");
  mkdirSync(join(out, "bench"), { recursive: true });
  execFileSync("chattr", ["+i", join(out, "bench")]);
  cleanups.push(() => execFileSync("chattr", ["-i", join(out, "bench")]));
  const r = await runCli(["pipeline", "--image", image, "--json", "--output", "/bench/result.json", "--output-dir", out], env, 15 * 60_000);
  assert.is(r.exitCode, 125, r.stderr);
  const doc = JSON.parse(r.stdout) as { status: number; exitCode: number; stdout: string; outputs: Record<string, string | null>; error: string };
  assert.is(doc.status, 125);
  // The reason first, quoted (uvu's match prints no actual value): a run that failed another way (the VM, say) then says so.
  assert.match(doc.error ?? "", new RegExp(`^output-dir: could not save /bench/result\\.json as ${join(out, "bench", "result.json")}: .*(EPERM|operation not permitted)`, "i"), `the runner's reason: ${doc.error}`);
  assert.is(doc.exitCode, 0, "the command's own exit code");
  assert.is(doc.stdout, "done\n");
  assert.is(doc.outputs["/bench/result.json"], "42\n", "the file's contents are in the document");
  assert.equal(readdirSync(join(work, "runs")), [], "no run directory left");
});

test.run();
