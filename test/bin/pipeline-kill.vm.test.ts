// Stopping `bencher-run pipeline` while its VM boots leaves nothing behind:
// Ctrl-C/SIGTERM end it with 130/143 and one line, and every process it
// started (stages, sandboxes, the VMM) is gone, no mount or run directory is
// left. Even SIGKILL, which allows no cleanup, leaves no process (the
// sandboxes die with their parent); its run directory is swept by the next run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { sweepStaleRuns } from "../../lib/workdir/run-workdir.js";
import { cli } from "./helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "pipeline-kill-"));
const image = join(scratch, "sleeper.oci");
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

test.before(async () => {
  await buildImage({ base: "busybox", config: { cmd: ["sleep", "600"] } }, { format: "oci-dir", out: image });
});

/** pid → start time of `pid` and every process below it. */
function descendants(root: number): Map<number, string> {
  const parent = new Map<number, number>();
  const start = new Map<number, string>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(name), Number(fields[1]));
      start.set(Number(name), fields[19]!);
    } catch {
      // gone meanwhile
    }
  }
  const found = new Map<number, string>();
  const walk = (pid: number) => {
    for (const [child, ppid] of parent) {
      if (ppid === pid && !found.has(child)) {
        found.set(child, start.get(child)!);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

function stillRunning(processes: Map<number, string>): number[] {
  return [...processes].filter(([pid, started]) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] === started;
    } catch {
      return false;
    }
  }).map(([pid]) => pid);
}

async function until(what: string, check: () => boolean, ms: number, explain: () => string = () => ""): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) assert.unreachable(`timed out waiting for ${what}${explain()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts a pipeline and waits until its VM is booting (the console log has output). */
async function startBooting(workRoot: string) {
  const child = execa(cli, ["pipeline", "--image", image], { reject: false, env: { BENCHER_RUN_WORKDIR: workRoot }, stdin: "ignore" });
  const consoleHasOutput = () => {
    if (!existsSync(workRoot)) return false;
    return readdirSync(workRoot).some((run) => {
      try {
        return readFileSync(join(workRoot, run, "boot", "console.log")).length > 0;
      } catch {
        return false;
      }
    });
  };
  await until("the VM to print on its console", consoleHasOutput, 120_000);
  const runDir = join(workRoot, readdirSync(workRoot)[0]!);
  return { child, runDir, processes: descendants(child.pid!) };
}

function describe(pids: number[]): string {
  return pids.map((pid) => {
    try {
      return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").slice(0, 120)}`;
    } catch {
      return String(pid);
    }
  }).join("; ");
}

function mountsMentioning(path: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((line) => line.includes(path));
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`${signal} while the VM boots: exit ${signal === "SIGINT" ? 130 : 143}, nothing left`, async () => {
    const workRoot = join(scratch, `runs-${signal}`);
    const { child, runDir, processes } = await startBooting(workRoot);
    assert.ok(processes.size >= 4, `stages and VMM running (${processes.size} processes)`);
    child.kill(signal);
    const r = await child;
    assert.is(r.exitCode, signal === "SIGINT" ? 130 : 143, String(r.stderr));
    assert.is(String(r.stderr), `bencher-run: interrupted by ${signal}`);
    assert.is(String(r.stdout), "");
    await until("every process to end", () => stillRunning(processes).length === 0, 10_000, () => `: still running ${describe(stillRunning(processes))}`);
    assert.not.ok(existsSync(runDir), "run directory removed");
    assert.equal(readdirSync(workRoot), []);
    assert.equal(mountsMentioning(runDir), []);
  });
}

test("SIGINT during run 2 of --iter 3 --json: run 1's document is still printed, marked interrupted", async () => {
  const workRoot = join(scratch, "runs-iter");
  const child = execa(cli, ["pipeline", "--image", image, "--iter", "3", "--json", "--cmd", "echo", "finished"],
    { reject: false, env: { BENCHER_RUN_WORKDIR: workRoot }, stdin: "ignore" });
  // Each run has a run directory of its own: a second name means run 1 is over.
  const seen = new Set<string>();
  await until("the second run to start", () => {
    if (existsSync(workRoot)) for (const name of readdirSync(workRoot)) seen.add(name);
    return seen.size >= 2;
  }, 300_000);
  child.kill("SIGINT");
  const r = await child;
  assert.is(r.exitCode, 130, String(r.stderr));
  assert.is(String(r.stderr), "bencher-run: interrupted by SIGINT");
  const doc = JSON.parse(String(r.stdout)) as { schema: number; interrupted: string; runs: { status: number; stdout: string }[] };
  assert.is(doc.interrupted, "SIGINT");
  assert.is(doc.runs.length, 1);
  assert.equal([doc.runs[0]!.status, doc.runs[0]!.stdout], [0, "finished\n"]);
  assert.equal(readdirSync(workRoot), []);
});

test("SIGKILL while the VM boots: no process left; the next run sweeps the directory", async () => {
  const workRoot = join(scratch, "runs-SIGKILL");
  const { child, runDir, processes } = await startBooting(workRoot);
  child.kill("SIGKILL");
  await child;
  await until("every process to end", () => stillRunning(processes).length === 0, 10_000, () => `: still running ${describe(stillRunning(processes))}`);
  assert.equal(mountsMentioning(runDir), []);
  assert.equal(sweepStaleRuns(workRoot, 0), [runDir]);
  assert.equal(readdirSync(workRoot), []);
});

test.run();
