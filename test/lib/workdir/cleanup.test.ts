// Kill a pipeline-like coordinator mid-run (Ctrl-C, SIGTERM) or let one of its
// stages crash, then check that nothing is left: no process, no mount, no directory.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa, type ResultPromise } from "execa";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const coordinator = fileURLToPath(new URL("./fixtures/pipeline-like.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "workdir-cleanup-test-"));
test.after(() => rmSync(root, { recursive: true, force: true }));

function start(mode: string, keep = false): { child: ResultPromise; ready: Promise<{ runDir: string; sandboxPid: number }> } {
  const child = execa(process.execPath, [coordinator, root, mode, ...(keep ? ["--keep"] : [])], { reject: false, buffer: { stdout: false } });
  const ready = new Promise<{ runDir: string; sandboxPid: number }>((resolve, reject) => {
    let text = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const m = /ready (\S+) (\d+)/.exec(text);
      if (m) resolve({ runDir: m[1], sandboxPid: Number(m[2]) });
    });
    child.once("exit", () => reject(new Error(`coordinator exited before ready: ${text}`)));
  });
  return { child, ready };
}

/** Every process whose command line or mount table mentions the run directory. */
function traces(runDir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    for (const file of ["cmdline", "mountinfo"]) {
      try {
        if (readFileSync(`/proc/${pid}/${file}`, "utf8").includes(runDir)) found.push(`${pid}:${file}`);
      } catch {
        // Gone, or not ours to read.
      }
    }
  }
  return found;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`${signal} mid-run leaves no process, no mount, no directory`, async () => {
    const { child, ready } = start("sleep");
    const { runDir, sandboxPid } = await ready;
    assert.ok(existsSync(join(runDir, "first", "made")), "the run was under way");
    assert.ok(traces(runDir).length > 0, "positive control: the running sandbox shows up in /proc");
    child.kill(signal);
    const result = await child;
    assert.is(result.exitCode, signal === "SIGINT" ? 130 : 143, result.stderr as string);
    assert.match(result.stderr as string, /interrupted by|stopped by/);
    assert.not.ok(existsSync(runDir), "run directory removed");
    assert.not.ok(groupAlive(sandboxPid), "sandbox process group gone");
    assert.equal(traces(runDir), [], "no process or mount refers to the run");
    assert.equal(readdirSync(root), [], "nothing left in the work root");
  });
}

test("a second Ctrl-C forces the cleanup at once, even with a stage ignoring the first", async () => {
  const { child, ready } = start("stubborn");
  const { runDir, sandboxPid } = await ready;
  const t0 = Date.now();
  child.kill("SIGINT");
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(groupAlive(sandboxPid), "positive control: the stubborn stage outlives the first Ctrl-C");
  child.kill("SIGINT");
  const result = await child;
  assert.ok(Date.now() - t0 < 2500, "did not wait for the stage's grace period");
  assert.is(result.exitCode, 130);
  assert.not.ok(existsSync(runDir));
  // SIGKILLed as the coordinator left; its orphans are then reaped by init, not by us.
  for (let i = 0; i < 100 && groupAlive(sandboxPid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.not.ok(groupAlive(sandboxPid), "sandbox killed");
  assert.equal(traces(runDir), []);
});

test("a stage crash removes the run directory too, with a one-line error", async () => {
  const { child, ready } = start("crash");
  const { runDir } = await ready;
  const result = await child;
  assert.is(result.exitCode, 1);
  assert.match(result.stderr as string, /second: stage exited with code 9 before sending a result \(stderr: probe: crashing on purpose\)/);
  assert.not.ok(existsSync(runDir));
  assert.equal(traces(runDir), []);
});

test("--keep leaves the run directory in place", async () => {
  const { child, ready } = start("crash", true);
  const { runDir } = await ready;
  await child;
  assert.ok(existsSync(join(runDir, "first", "made")));
  rmSync(runDir, { recursive: true, force: true });
});

test.run();
