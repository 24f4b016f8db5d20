import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, writeFileSync, statSync } from "node:fs";
import { execa } from "execa";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderMountScript } from "../../../lib/sandbox/mount-script.js";
import { planMounts, STAGE_DEVICES } from "../../../lib/sandbox/mount-plan.js";
import { mkfsToolPaths } from "../../../lib/sandbox/blocked-tools.js";
import { hostMountFlags, readMountTable } from "../../../lib/sandbox/host-mount-flags.js";
import { probeAs, probeCommand } from "./helpers.js";
import { runSandboxed } from "../../../lib/sandbox/run-sandboxed.js";
import { projectRoot } from "../../../lib/paths.js";
import { realpathSync } from "node:fs";

const projectRootPath = () => realpathSync(projectRoot);

const work = mkdtempSync(join(tmpdir(), "mount-script-test-"));
const nasty = join(work, "it's $(touch PWNED) `x` \"q\" dir");
test.after(() => rmSync(work, { recursive: true, force: true }));

test("paths with quotes, spaces and $() are quoted, not run", async () => {
  mkdirSync(nasty, { mode: 0o755 });
  const plan = planMounts({ readOnly: [], writable: [nasty], masked: [] });
  const script = renderMountScript(plan, "/nowhere");
  assert.ok(script.includes(`'${work}/it'\\''s $(touch PWNED) \`x\` "q" dir'`));
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
  for (const point of ["/usr", "/etc", projectRootPath(), input]) assert.ok(mounts.get(point)?.includes("ro"), `${point} read-only: ${mounts.get(point)}`);
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

test("host mount flags come from the deepest mount above a path", () => {
  const table = readMountTable([
    "1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw",
    "2 1 0:5 / /tmp rw,nosuid,nodev,noexec - tmpfs tmpfs rw",
    "3 1 0:6 / /my\\040dir rw,noatime - tmpfs tmpfs rw",
  ].join("\n"));
  assert.equal(hostMountFlags("/usr/bin", table), ["relatime"]);
  assert.equal(hostMountFlags("/tmp/x", table), ["nosuid", "nodev", "noexec"]);
  assert.equal(hostMountFlags("/my dir/y", table), ["noatime"]);
  assert.equal(hostMountFlags("/tmpfoo", table), ["relatime"]);
});

test("root links named like their target are made by one ln, others each by their own; device files by the shell", () => {
  const script = renderMountScript({
    links: [
      { path: "/bin", target: "usr/bin" },
      { path: "/lib64", target: "usr/lib64" },
      { path: "/libx32", target: "usr/lib32" }, // another name: ln would make /lib32
      { path: "/sbin", target: "usr/sbin/" }, // a trailing slash: ln's name would not be sbin for sure
    ],
    binds: [],
    masked: [],
    devices: ["null", "zero"],
  }, "/nowhere");
  const lines = script.split("\n");
  assert.ok(lines.includes(`ln -s 'usr/bin' 'usr/lib64' "$R/"`), script);
  assert.ok(lines.includes(`ln -s 'usr/lib32' "$R"'/libx32'`), script);
  assert.ok(lines.includes(`ln -s 'usr/sbin/' "$R"'/sbin'`), script);
  assert.is(lines.filter((l) => l.startsWith("ln -s 'usr/")).length, 3);
  assert.ok(lines.includes(`: > "$R/dev/null"`) && lines.includes(`: > "$R/dev/zero"`), script);
  assert.not.ok(script.includes("touch"), "no touch process for device files");
});

test("one mkdir makes every outermost mount point; each bind is one mount with its flags; nested binds need no mount point", () => {
  const bind = (path: string, kind: "dir" | "file", writable: boolean) => ({ path, kind, writable, hostFlags: ["relatime"], submounts: [] });
  const script = renderMountScript({
    links: [],
    binds: [bind("/usr", "dir", false), bind("/srv/in", "dir", false), bind("/srv/in/deeper", "dir", true), bind("/srv/k/vmlinux", "file", false), bind("/out", "dir", true)],
    masked: [],
    devices: [],
  }, "/nowhere");
  const lines = script.split("\n");
  assert.equal(lines.filter((l) => l.startsWith("mkdir -p")), [`mkdir -p "$R"'/usr' "$R"'/srv/in' "$R"'/srv/k' "$R"'/out'`]);
  assert.ok(lines.indexOf(`mkdir -p "$R"'/usr' "$R"'/srv/in' "$R"'/srv/k' "$R"'/out'`) > lines.findIndex((l) => l.includes("bencher-stage-tmp")), "after /tmp's tmpfs");
  assert.ok(lines.includes(`: > "$R"'/srv/k/vmlinux'`), "a file's mount point is made by the shell");
  assert.equal(lines.filter((l) => l.startsWith("mount --rbind")), [
    `mount --rbind -o ro,nosuid,nodev,relatime '/usr' "$R"'/usr'`,
    `mount --rbind -o ro,nosuid,nodev,relatime '/srv/in' "$R"'/srv/in'`,
    `mount --rbind -o rw,nosuid,nodev,relatime '/srv/in/deeper' "$R"'/srv/in/deeper'`,
    `mount --rbind -o ro,nosuid,nodev,relatime '/srv/k/vmlinux' "$R"'/srv/k/vmlinux'`,
    `mount --rbind -o rw,nosuid,nodev,relatime '/out' "$R"'/out'`,
  ]);
  assert.not.ok(script.includes("remount"), "mount applies the flags itself");
  assert.not.ok(script.includes("touch"));
});

test.run();
