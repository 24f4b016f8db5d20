// Descriptors the coordinator inherited without close-on-exec (a shell's
// `exec 200</root/secret`) must not reach a sandboxed stage: spawn, unshare,
// bwrap and setpriv would all pass them on.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cli } from "../../bin/helpers.js";

const work = mkdtempSync(join(tmpdir(), "inherited-fds-"));
chmodSync(work, 0o755);
test.after(() => rmSync(work, { recursive: true, force: true }));

const secret = join(work, "secret");
const appended = join(work, "appended");
writeFileSync(secret, "the coordinator's secret\n", { mode: 0o600 });
writeFileSync(appended, "", { mode: 0o600 });

/** argv run by bash (dash takes no descriptor above 9) with 200 open on the secret and 201 appending to `appended`, neither close-on-exec. */
function withOpenFds(argv: string[]): [string, string[]] {
  return ["bash", ["-c", `exec 200<"$1" 201>>"$2"; shift 2; exec "$@"`, "sh", secret, appended, ...argv]];
}

test("a stage started through the library (runSandboxed) gets none of the coordinator's inherited descriptors", () => {
  const [sh, args] = withOpenFds([process.execPath, fileURLToPath(new URL("./fixtures/fd-coordinator.js", import.meta.url))]);
  const r = spawnSync(sh, args, { encoding: "utf8", timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  const { open, read, write } = JSON.parse(r.stdout);
  assert.ok(open, "positive control: the coordinator had both descriptors");
  assert.equal(read, { ok: false, code: "EBADF" }, "fd 200 is not open in the stage");
  assert.equal(write, { ok: false, code: "EBADF" }, "fd 201 is not open in the stage");
  assert.is(readFileSync(appended, "utf8"), "", "nothing was appended");
});

/** The pids under `pid` (its children, theirs...). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(/^PPid:\s*(\d+)$/m.exec(readFileSync(`/proc/${name}/status`, "utf8"))![1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  for (let todo = [pid]; todo.length > 0;) {
    const next = children.get(todo.pop()!) ?? [];
    out.push(...next);
    todo.push(...next);
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).map((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return "";
    }
  });
}

test("bencher-run started with descriptors open: its collect stage holds neither file, and they are close-on-exec", async () => {
  if (process.getuid?.() !== 0) return; // a stage's descriptors are readable in /proc only by root (it runs as another uid)
  const sockets = join(work, "vsock");
  const socket = join(sockets, "v_1024");
  const job = join(work, "job.json");
  writeFileSync(job, JSON.stringify({ argv: ["true"] }));
  const [sh, args] = withOpenFds([cli, "collect", "--socket", socket, "--job", job, "--boot-timeout", "60"]);
  mkdirSync(join(work, "cache"), { recursive: true });
  const coordinator = spawn(sh, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, BENCHER_RUN_CACHE: join(work, "cache") } });
  const closed = new Promise((r) => coordinator.once("close", r));
  let stderr = "";
  coordinator.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
  try {
    const t0 = Date.now();
    while (!existsSync(socket)) {
      if (Date.now() - t0 > 30_000 || coordinator.exitCode !== null) throw new Error(`the collect stage never listened: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const stages = descendants(coordinator.pid!).filter((pid) => cmdline(pid).includes("stages/collect/main.js"));
    assert.ok(stages.length > 0, "positive control: the collect stage runs");
    for (const pid of [...descendants(coordinator.pid!)]) {
      const files = openFiles(pid);
      assert.not.ok(files.includes(secret) || files.includes(appended), `process ${pid} (${cmdline(pid)}) holds ${files.join(", ")}`);
    }
    // The coordinator itself: both descriptors still open, now close-on-exec.
    for (const fd of [200, 201]) {
      const flags = parseInt(/^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/${coordinator.pid}/fdinfo/${fd}`, "utf8"))![1]!, 8);
      assert.ok(flags & 0o2000000, `the coordinator's fd ${fd} is close-on-exec (flags ${flags.toString(8)})`);
    }
  } finally {
    coordinator.kill("SIGTERM");
    await closed;
  }
});

test.run();
