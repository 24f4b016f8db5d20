import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, writeFileSync, statSync, chmodSync } from "node:fs";
import { execa } from "execa";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bwrapRootArgs } from "../../../lib/sandbox/bwrap-args.js";
import { bwrapPath, sandboxArgv } from "../../../lib/sandbox/launch.js";
import { planMounts, projectRuntime, STAGE_DEVICES, type BindMount } from "../../../lib/sandbox/mount-plan.js";
import { mkfsToolPaths } from "../../../lib/sandbox/blocked-tools.js";
import { probeAs, probeCommand } from "./helpers.js";
import { runSandboxed } from "../../../lib/sandbox/run-sandboxed.js";
import { projectRoot } from "../../../lib/paths.js";
import { realpathSync } from "node:fs";

const projectRootPath = () => realpathSync(projectRoot);

const work = mkdtempSync(join(tmpdir(), "bwrap-args-test-"));
const nasty = join(work, "it's $(touch PWNED) `x` \"q\" dir");
test.after(() => rmSync(work, { recursive: true, force: true }));

test("paths with quotes, spaces and $() are arguments, never run", async () => {
  mkdirSync(nasty, { mode: 0o755 });
  assert.ok(sandboxArgv({ stage: "probe", command: ["true"], writable: [nasty] }).includes(nasty), "passed whole, as one argument");
  const r = await probeAs("unpack", { act: "write", path: join(nasty, "out"), data: "ok" }, { writable: [nasty] });
  assert.is(r.ok, true, r.code);
  assert.is(readFileSync(join(nasty, "out"), "utf8"), "ok");
  assert.not.ok(existsSync("PWNED") || existsSync(join(work, "PWNED")));
});

test("inside the stage every mount is nosuid and nodev, inputs and system dirs read-only, outputs writable", async () => {
  const input = join(work, "flags-in");
  const output = join(work, "flags-out");
  mkdirSync(input);
  mkdirSync(output);
  const r = await probeAs("mkrootfs", { act: "read", path: "/proc/self/mountinfo" }, { readOnly: [input], writable: [output] });
  assert.is(r.ok, true, r.code);
  // mountinfo: ID parent major:minor root mountpoint options ...
  const mounts = new Map((r.value as string).trim().split("\n").map((line) => {
    const f = line.split(" ");
    return [f[4].replace(/\\040/g, " "), f[5].split(",")] as const;
  }));
  // Device nodes must stay usable; masked tools are /dev/null bound over them.
  const deviceBinds = new Set([...STAGE_DEVICES.map((d) => `/dev/${d}`), ...mkfsToolPaths().map((p) => realpathSync(p))]);
  for (const [point, options] of mounts) {
    if (point === "/proc" || deviceBinds.has(point)) continue; // proc: nosuid,nodev,noexec, checked below
    assert.ok(options.includes("nosuid") && options.includes("nodev"), `${point}: ${options.join(",")}`);
  }
  for (const point of ["/usr", "/etc", join(projectRootPath(), "dist"), join(projectRootPath(), "node_modules"), input]) assert.ok(mounts.get(point)?.includes("ro"), `${point} read-only: ${mounts.get(point)}`);
  assert.ok(mounts.get(output)?.includes("rw"), `${output} writable: ${mounts.get(output)}`);
  assert.ok(mounts.get("/proc")?.includes("noexec"));
});

test("a read-only input's own submounts are read-only inside the stage too", async () => {
  if (process.getuid!() !== 0) return; // needs a host mount to set up
  const input = join(work, "input");
  const sub = join(input, "sub");
  mkdirSync(sub, { recursive: true, mode: 0o755 });
  await execa("mount", ["-t", "tmpfs", "-o", "mode=0777", "submount-test", sub]);
  try {
    writeFileSync(join(sub, "host-can-write"), "yes"); // positive control: writable on the host
    const r = await probeAs("mkrootfs", { act: "write", path: join(sub, "x"), data: "no" }, { readOnly: [input] });
    assert.is(r.ok, false);
    assert.is(r.code, "EROFS");
    const read = await probeAs("mkrootfs", { act: "read", path: join(sub, "host-can-write") }, { readOnly: [input] });
    assert.is(read.value, "yes", "the submount itself is visible");
  } finally {
    await execa("umount", [sub]);
  }
});

test("under a root runner, a writable path not given to the stage is refused (never chowned behind the caller's back)", async () => {
  if (process.getuid!() !== 0) return;
  const mine = join(work, "roots-own");
  mkdirSync(mine);
  try {
    await runSandboxed({ stage: "probe", command: probeCommand, writable: [mine] }, { act: "identity" });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /writable path .*roots-own is not owned by the stage uid 65534/);
  }
  assert.is(statSync(mine).uid, 0);
});

test("a missing mount path is a one-line error naming it", () => {
  assert.throws(() => planMounts({ readOnly: ["/no/such/input"], writable: [], masked: [] }), /sandbox mount \/no\/such\/input: no such file or directory/);
});

test("parents are bound before children; writable wins over read-only", () => {
  const inner = join(work, "a", "b");
  mkdirSync(inner, { recursive: true });
  const plan = planMounts({ readOnly: [inner, join(work, "a")], writable: [inner], masked: [] });
  const paths = plan.binds.map((b) => b.path);
  assert.ok(paths.indexOf(join(work, "a")) < paths.indexOf(inner));
  assert.is(plan.binds.find((b) => b.path === inner)!.writable, true);
});

test("a stage reaches its paths through host directories it could not enter (the root's are made 0755)", async () => {
  // As under a root runner's cache in /root: the stage's host uid may read the files but not walk the host's path to them.
  const closed = join(work, "closed");
  const input = join(closed, "in");
  mkdirSync(input, { recursive: true });
  writeFileSync(join(input, "data"), "through");
  chmodSync(closed, 0o700);
  const r = await probeAs("mkrootfs", { act: "read", path: join(input, "data") }, { readOnly: [input] });
  assert.is(r.value, "through", r.code);
  const modes = await probeAs("mkrootfs", { act: "stat", path: closed }, { readOnly: [input] });
  assert.is(modes.value.mode & 0o777, 0o755);
});

test("a cache kept inside the project: the stage reaches its run directory's paths and sees nothing else of it", async () => {
  // BENCHER_RUN_CACHE=./cache in a checkout, run by root: run directories are
  // 0700, the stage is uid 65534. Were the whole project bound, the stage
  // would walk the host's 0700 directory to its output (EACCES) and could
  // read the rest of the cache.
  const cache = mkdtempSync(join(projectRoot, ".sandbox-test-cache-"));
  try {
    const run = join(cache, "runs", "run-1");
    const out = join(run, "unpack");
    mkdirSync(out, { recursive: true });
    chmodSync(run, 0o700);
    writeFileSync(join(cache, "other-run-secret"), "not for this stage");
    const wrote = await probeAs("unpack", { act: "write", path: join(out, "layer"), data: "written" }, { writable: [out] });
    assert.is(wrote.ok, true, `the stage writes its output: ${wrote.code}`);
    assert.is(readFileSync(join(out, "layer"), "utf8"), "written");
    const secret = await probeAs("unpack", { act: "read", path: join(cache, "other-run-secret") }, { writable: [out] });
    assert.is(secret.code, "ENOENT", "the rest of the cache is not there");
    const project = await probeAs("unpack", { act: "readdir", path: projectRoot }, { writable: [out] });
    const runtime = projectRuntime().filter((p) => p.startsWith(projectRoot + "/")).map((p) => p.slice(projectRoot.length + 1));
    assert.equal([...project.value].sort(), [...runtime, cache.slice(projectRoot.length + 1)].sort(), "of the project: its runtime and the way to the output");
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test("the project's runtime: dist, package.json and every node_modules Node's resolution walks to (a hoisted install's too)", () => {
  const app = join(work, "app");
  const installed = join(app, "node_modules", "bencher-run");
  for (const dir of [join(installed, "dist"), join(installed, "src")]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(installed, "package.json"), "{}");
  assert.equal(projectRuntime(installed), [join(installed, "package.json"), join(installed, "dist"), join(app, "node_modules")]);
  assert.ok(projectRuntime().includes(join(projectRoot, "node_modules")));
});

test("a read-only input on a noexec,nosuid,nodev host mount keeps those flags inside", async () => {
  if (process.getuid!() !== 0) return; // needs a host mount to set up
  const input = join(work, "locked-flags");
  mkdirSync(input, { mode: 0o755 });
  await execa("mount", ["-t", "tmpfs", "-o", "mode=0755,noexec,nosuid,nodev", "flags-test", input]);
  try {
    const r = await probeAs("unpack", { act: "read", path: "/proc/self/mountinfo" }, { readOnly: [input] });
    const line = (r.value as string).split("\n").find((l) => l.split(" ")[4] === input);
    assert.ok(line, `${input} is mounted in the stage`);
    const options = line!.split(" ")[5].split(",");
    for (const flag of ["ro", "noexec", "nosuid", "nodev"]) assert.ok(options.includes(flag), `${flag}: ${options.join(",")}`);
  } finally {
    await execa("umount", [input]);
  }
});

test("without bwrap on PATH: a one-line error naming it and its package", () => {
  assert.throws(() => bwrapPath("/no/such/dir:relative"), /^sandbox: bwrap not found on PATH \(Debian package bubblewrap; \.\/setup installs it\)$/);
  assert.match(bwrapPath(), /\/bwrap$/);
});

test("the root: /tmp's tmpfs first, then each mount point's parents (0755), binds in plan order, devices, masks, /proc", () => {
  const bind = (path: string, writable: boolean): BindMount => ({ path, writable });
  const args = bwrapRootArgs({
    links: [{ path: "/bin", target: "usr/bin" }],
    binds: [bind("/usr", false), bind("/srv/in", false), bind("/srv/in/deeper/x", true), bind("/srv/k/vmlinux", false), bind("/tmp/work/out", true)],
    masked: ["/usr/sbin/mke2fs"],
    devices: ["null"],
  });
  const text = args.join(" ");
  assert.ok(text.startsWith("--perms 1777 --tmpfs /tmp "), text);
  const dirs = [...text.matchAll(/--perms 0755 --dir (\S+)/g)].map((m) => m[1]);
  // /srv/in/deeper is inside the /srv/in bind: it is there already and needs no directory.
  assert.equal(dirs, ["/dev", "/srv", "/srv/k", "/tmp/work"]);
  const binds = [...text.matchAll(/--(ro-bind|bind) (\S+) (\S+)/g)].map((m) => `${m[1]} ${m[2]}`);
  assert.equal(binds, ["ro-bind /usr", "ro-bind /srv/in", "bind /srv/in/deeper/x", "ro-bind /srv/k/vmlinux", "bind /tmp/work/out", "ro-bind /dev/null"]);
  assert.ok(text.includes("--symlink usr/bin /bin"));
  assert.ok(text.includes("--dev-bind /dev/null /dev/null"));
  assert.ok(text.includes("--ro-bind /dev/null /usr/sbin/mke2fs"));
  assert.ok(text.includes("--perms 1777 --tmpfs /dev/shm"));
  assert.ok(text.endsWith("--proc /proc --chdir /"), text);
});

test.run();
