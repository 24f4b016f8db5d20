// Each sandbox boundary, proved by a stage trying to cross it. Every "denied"
// check has a positive control beside it, so a broken probe cannot pass.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Server } from "node:net";
import { mkdtempSync, mkdirSync, statSync, writeFileSync, rmSync, readFileSync, existsSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, basename } from "node:path";
import { projectRoot } from "../../../lib/paths.js";
import { probeAs } from "./helpers.js";
import { stageSandboxSpec } from "../../../lib/sandbox/stage-policy.js";

const work = mkdtempSync(join(tmpdir(), "sandbox-test-"));
const unpackOut = join(work, "unpack-out");
const bootOut = join(work, "boot-out");
test.before(() => {
  for (const d of [unpackOut, bootOut]) mkdirSync(d, { recursive: true, mode: 0o755 });
  writeFileSync(join(unpackOut, "secret"), "unpack's work");
});

test.after(() => rmSync(work, { recursive: true, force: true }));

test("a stage is not host root: unprivileged host uid, no capabilities, no new privileges", async () => {
  process.env.BENCHER_TEST_SECRET = "do-not-leak";
  const out = join(work, "identity-out");
  mkdirSync(out, { mode: 0o755 });
  const r = await probeAs("unpack", { act: "identity" }, { writable: [out] });
  assert.is(r.value.uidMap[0], 0, "the stage is root in its own namespace");
  assert.ok(r.value.status.includes("CapEff:\t0000000000000000"), r.value.status.join(" "));
  assert.ok(r.value.status.includes("CapBnd:\t0000000000000000"));
  assert.ok(r.value.status.includes("NoNewPrivs:\t1"));
  assert.not.ok(r.value.env.includes("BENCHER_TEST_SECRET"), "host environment must not leak in");
  // What the host sees: a file the stage creates belongs to an unprivileged host uid.
  const wrote = await probeAs("unpack", { act: "write", path: join(out, "who"), data: "x" }, { writable: [out] });
  assert.is(wrote.ok, true);
  const owner = statSync(join(out, "who")).uid;
  assert.is.not(owner, 0, "namespace root must not be host root");
  assert.is(owner, process.getuid!() === 0 ? 65534 : process.getuid!());
});

test("a stage has its own PID namespace: it sees only itself and the sandbox's init", async () => {
  const r = await probeAs("collect", { act: "identity" });
  assert.is(r.value.pid, 2);
  assert.equal(r.value.processes, ["1", "2"]);
});

test("a non-boot stage cannot open /dev/kvm (by any path)", async () => {
  for (const stage of ["unpack", "mkrootfs", "collect"] as const) {
    for (const path of ["/dev/kvm", "/dev/char/10:232"]) {
      const r = await probeAs(stage, { act: "open", path, flags: "r+" });
      assert.is(r.ok, false, `${stage} opened ${path}`);
    }
  }
  const devices = await probeAs("unpack", { act: "readdir", path: "/dev" });
  assert.not.ok(devices.value.includes("kvm"));
  assert.ok(devices.value.includes("null"), "positive control: /dev/null is there");
});

test("only the boot stage may be handed /dev/kvm", () => {
  assert.throws(() => stageSandboxSpec("unpack", { kvmFd: 0 }), /only the boot stage may receive \/dev\/kvm/);
  assert.throws(() => stageSandboxSpec("boot", {}), /needs an open \/dev\/kvm descriptor/);
});

test("boot cannot run mkfs.ext4 or mke2fs, by name, path or busybox; mkrootfs can", async () => {
  const fd = openSync("/dev/null", "r"); // stands in for /dev/kvm so the test runs without KVM
  try {
    for (const argv of [["mkfs.ext4", "-F", "/tmp/img", "4M"], ["/usr/sbin/mke2fs", "-F", "/tmp/img", "4M"], ["busybox", "mke2fs", "/tmp/img", "4096"]]) {
      const r = await probeAs("boot", { act: "exec", argv }, { kvmFd: fd });
      assert.is(r.ok, false, `boot ran ${argv.join(" ")}: ${r.value}`);
    }
    const copy = await probeAs("boot", { act: "read", path: "/usr/sbin/mke2fs" }, { kvmFd: fd });
    assert.ok(!copy.ok || copy.value === "", "boot cannot even read mke2fs to copy it");
  } finally {
    closeSync(fd);
  }
  const made = await probeAs("mkrootfs", { act: "exec", argv: ["sh", "-c", "truncate -s 4M /tmp/img && mkfs.ext4 -q -F /tmp/img && echo made"] });
  assert.is(made.ok, true, `positive control: mkrootfs runs mkfs.ext4: ${made.value}`);
});

test("no stage but mkrootfs can run mksquashfs, mkfs.minix, mkfs.bfs or mkfs.cramfs; mkrootfs can", async () => {
  const commands: Record<string, string> = {
    "mksquashfs": "mksquashfs /tmp/src /tmp/img -quiet -noappend",
    "mkfs.minix": "truncate -s 1M /tmp/img && mkfs.minix /tmp/img",
    "mkfs.bfs": "truncate -s 1M /tmp/img && mkfs.bfs /tmp/img",
    "mkfs.cramfs": "mkfs.cramfs /tmp/src /tmp/img",
  };
  const tools = Object.keys(commands).filter((tool) => ["/usr/bin", "/usr/sbin"].some((dir) => existsSync(join(dir, tool))));
  const run = (tool: string) => ["sh", "-c", `mkdir -p /tmp/src && echo x > /tmp/src/f && ${commands[tool]} >/dev/null && echo made`];
  for (const tool of tools) {
    for (const stage of ["unpack", "collect"] as const) {
      const r = await probeAs(stage, { act: "exec", argv: run(tool) });
      assert.is(r.ok, false, `${stage} ran ${tool}: ${r.value}`);
    }
    const made = await probeAs("mkrootfs", { act: "exec", argv: run(tool) });
    assert.is(made.ok, true, `positive control: mkrootfs runs ${tool}: ${made.value}`);
  }
});

test("a stage cannot undo its sandbox (umount, new user namespace)", async () => {
  const umount = await probeAs("unpack", { act: "exec", argv: ["umount", "-l", "/usr/sbin/mke2fs"] });
  assert.is(umount.ok, false);
  const nested = await probeAs("unpack", { act: "exec", argv: ["unshare", "--user", "--map-root-user", "--mount", "umount", "-l", "/usr/sbin/mke2fs"] });
  assert.is(nested.ok, false);
  const still = await probeAs("unpack", { act: "exec", argv: ["mkfs.ext4", "-V"] });
  assert.is(still.ok, false);
});

let server: Server;
let port = 0;
test.before(async () => {
  server = createServer((s) => s.end());
  await new Promise<void>((r) => { server.listen(0, "127.0.0.1", r); });
  port = (server.address() as { port: number }).port;
});
test.after(() => { server.close(); });

test("boot cannot open a network socket to the host; with network granted it can", async () => {
  const fd = openSync("/dev/null", "r");
  try {
    const denied = await probeAs("boot", { act: "connect", host: "127.0.0.1", port }, { kvmFd: fd });
    assert.is(denied.ok, false);
    assert.ok(["ENETUNREACH", "ECONNREFUSED"].includes(denied.code!), denied.code);
  } finally {
    closeSync(fd);
  }
  const allowed = await probeAs("unpack", { act: "connect", host: "127.0.0.1", port }, { network: true });
  assert.is(allowed.ok, true, "positive control: the listener is reachable with network");
});

test("a stage sees only the work directories it is given", async () => {
  const fd = openSync("/dev/null", "r");
  try {
    const other = await probeAs("boot", { act: "read", path: join(unpackOut, "secret") }, { kvmFd: fd, writable: [bootOut] });
    assert.is(other.ok, false, "boot read unpack's work dir");
    assert.is(other.code, "ENOENT");
    const parent = await probeAs("boot", { act: "readdir", path: work }, { kvmFd: fd, writable: [bootOut] });
    assert.equal(parent.value, ["boot-out"], "only its own directory exists in the run's work root");
    const wrote = await probeAs("boot", { act: "write", path: join(bootOut, "out.txt"), data: "from boot" }, { kvmFd: fd, writable: [bootOut] });
    assert.is(wrote.ok, true, `positive control: writes its output: ${wrote.code}`);
    assert.is(readFileSync(join(bootOut, "out.txt"), "utf8"), "from boot");
  } finally {
    closeSync(fd);
  }
  const ro = await probeAs("mkrootfs", { act: "read", path: join(unpackOut, "secret") }, { readOnly: [unpackOut] });
  assert.is(ro.value, "unpack's work", "positive control: an input is readable");
  const rw = await probeAs("mkrootfs", { act: "write", path: join(unpackOut, "secret"), data: "tampered" }, { readOnly: [unpackOut] });
  assert.is(rw.ok, false);
  assert.is(rw.code, "EROFS");
  assert.is(readFileSync(join(unpackOut, "secret"), "utf8"), "unpack's work");
});

test("the host outside the project, system dirs and named paths is not there", async () => {
  // The project itself is bound at its real path (a checkout may live under
  // /root, /home or /tmp): the directories leading to it are the only exception.
  const [projectTop, projectSecond] = projectRoot.split("/").slice(1);
  const root = await probeAs("unpack", { act: "readdir", path: "/" });
  for (const name of ["root", "home", "var", "run", "mnt", "opt"]) {
    if (name !== projectTop) assert.not.ok(root.value.includes(name), `/${name} is visible`);
  }
  const tmp = await probeAs("unpack", { act: "readdir", path: "/tmp" });
  assert.equal(tmp.value, projectTop === "tmp" ? [projectSecond] : [], "/tmp is private and empty (but for the way to the project)");
  if (dirname(projectRoot) !== "/") {
    const beside = await probeAs("unpack", { act: "readdir", path: dirname(projectRoot) });
    assert.equal(beside.value, [basename(projectRoot)], "nothing beside the project in its parent directory");
  }
  assert.ok(existsSync("/etc/hostname") ? (await probeAs("unpack", { act: "read", path: "/etc/hostname" })).ok : true);
});

test.run();
