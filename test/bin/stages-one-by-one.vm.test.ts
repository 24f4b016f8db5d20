// The stages one by one, as a shell script runs them: image → unpack →
// mkrootfs → boot (guest-init, vsock) and collect, each a separate command.
// boot starts first and holds its vCPUs until collect's socket exists
// (--wait-for), so the two can be started in either order.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cli, runCli } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "cli-one-by-one-"));
chmodSync(work, 0o755);
const example = fileURLToPath(new URL("../../../examples/hello-bench.json", import.meta.url));
test.after(() => rmSync(work, { recursive: true, force: true }));
let rootImage = ""; // the first test's, for the second

test("unpack, mkrootfs, boot --guest-init --vsock --wait-for, collect: the benchmark's output and result file", async () => {
  const layout = join(work, "layout");
  const built = await runCli(["image", example, "--out", layout]);
  assert.is(built.exitCode, 0, built.stderr);
  const unpacked = join(work, "unpacked");
  const u = await runCli(["unpack", "--image", layout, "--out", unpacked, "--json"]);
  assert.is(u.exitCode, 0, u.stderr);
  const m = await runCli(["mkrootfs", "--input", unpacked, "--json"]);
  assert.is(m.exitCode, 0, m.stderr);
  rootImage = JSON.parse(m.stdout).image as string;

  const config = JSON.parse(readFileSync(join(unpacked, "config.json"), "utf8"));
  const job = join(work, "job.json");
  writeFileSync(job, JSON.stringify({ argv: [...config.entrypoint, "5000"], env: config.env, workingDir: config.workingDir, outputPaths: ["/bench/result.json"] }));
  const sockets = join(work, "vsock");
  const out = join(work, "results");

  // boot first: it makes the socket directory and waits for collect's socket in it.
  // No bencher.port on the command line: with --vsock, guest-init gets collect's default port.
  const boot = execa(cli, ["boot", "--disk", rootImage, "--guest-init", "--vsock", join(sockets, "v"), "--wait-for", join(sockets, "v_1024"),
    "--timeout", "600", "--json"], { reject: false, stdin: "ignore" });
  for (let i = 0; i < 500 && !existsSync(join(sockets, "v")); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(join(sockets, "v")), "boot listens for host clients at its --vsock path");
  const collect = await execa(cli, ["collect", "--socket", join(sockets, "v_1024"), "--job", job, "--out", out, "--json", "--timeout", "300"], { reject: false, stdin: "ignore" });
  const booted = await boot;

  assert.is(collect.exitCode, 0, `${collect.stderr}\nboot: ${booted.stderr}`);
  const collected = JSON.parse(String(collect.stdout));
  assert.is(collected.exitCode, 0);
  assert.match(readFileSync(join(out, "stdout"), "utf8"), /^shell-sum: sum\(1\.\.5000\) = 12502500 in \d+ ms on 1 CPU\(s\)\n$/);
  assert.match(readFileSync(collected.outputs["/bench/result.json"], "utf8"), /^\{"n": 5000, "sum": 12502500, "ms": \d+\}\n$/);

  assert.is(booted.exitCode, 0, String(booted.stderr));
  const vm = JSON.parse(String(booted.stdout));
  assert.ok(["reset", "poweroff"].includes(vm.exitReason), vm.exitReason);
  assert.ok(vm.heldMs > 0, `the vCPUs waited for collect's socket (heldMs ${vm.heldMs})`);
  assert.not.ok(existsSync(sockets), "boot removed its socket, and the directory it made for the sockets");
  // The stages wrote these as their own uid; they are the caller's now.
  for (const path of [out, join(out, "files"), collected.outputs["/bench/result.json"]]) assert.is(statSync(path).uid, process.getuid!(), path);
});

test("collect --timeout ends the whole run: the guest kills the command and resets, so boot ends too", async () => {
  assert.ok(rootImage, "the first test made the root image");
  const job = join(work, "sleep-job.json");
  writeFileSync(job, JSON.stringify({ argv: ["/bin/sh", "-c", "echo started; sleep 600"] }));
  const sockets = join(work, "vsock-stop");
  const consoleLog = join(work, "stop-console.log");
  const started = Date.now();
  // collect first this time (the first test started boot first): collect's command makes the
  // socket directory, and boot's, ending last, removes it.
  // The deadline runs from the command's start; 60 s leaves a loaded emulated host time to
  // start the shell and echo (CI once took over 5 s), and is still far short of the sleep.
  const collecting = execa(cli, ["collect", "--socket", join(sockets, "v_1024"), "--job", job, "--timeout", "60"], { reject: false, stdin: "ignore" });
  for (let i = 0; i < 500 && !existsSync(join(sockets, "v_1024")); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(existsSync(join(sockets, "v_1024")), "collect listens");
  const boot = execa(cli, ["boot", "--disk", rootImage, "--guest-init", "--vsock", join(sockets, "v"), "--wait-for", join(sockets, "v_1024"),
    "--timeout", "600", "--console-log", consoleLog, "--json"], { reject: false, stdin: "ignore" });
  const collect = await collecting;
  const booted = await boot;
  const tookS = (Date.now() - started) / 1000;

  assert.is(collect.exitCode, 124, String(collect.stderr));
  assert.is(collect.stdout, "started", String(collect.stderr));
  assert.match(String(collect.stderr), /timed out/);
  assert.is(booted.exitCode, 0, String(booted.stderr));
  assert.is(JSON.parse(String(booted.stdout)).exitReason, "reset");
  // The guest's own sleep would have held boot to its 600 s deadline.
  assert.ok(tookS < 300, `boot ended ${tookS} s after it started`);
  assert.match(readFileSync(consoleLog, "utf8"), /bencher-init: the host stopped the run: command killed/);
  assert.is(statSync(consoleLog).uid, process.getuid!(), "the console log is the caller's");
  assert.not.ok(existsSync(sockets), "the socket directory collect made is gone");
});

test("bad vsock and guest-init arguments: one line naming them, nothing made", async () => {
  const notSockets = join(work, "not-sockets");
  const r1 = await runCli(["boot", "--guest-init", "--initramfs", example]);
  assert.is(r1.stderr, "bencher-run: --guest-init and --initramfs: give one of them (guest-init is an initramfs)");
  writeFileSync(join(work, "file"), "x");
  const r2 = await runCli(["boot", "--vsock", join(work, "file", "v")]);
  assert.is(r2.stderr, `bencher-run: --vsock ${join(work, "file", "v")}: ${join(work, "file")} is not a directory`);
  const r3 = await runCli(["boot", "--vsock", join(tmpdir(), "v")]);
  assert.match(r3.stderr, new RegExp(`^bencher-run: --vsock ${join(tmpdir(), "v")}: ${tmpdir()} holds files other than sockets \\(`));
  const r4 = await runCli(["boot", "--vsock", join(notSockets, "v"), "--wait-for", join(work, "nowhere", "v_1024")]);
  assert.is(r4.stderr, `bencher-run: --wait-for ${join(work, "nowhere")}: no such file or directory`);
  assert.not.ok(existsSync(notSockets), "the socket directory made for --vsock is removed again");
  // The waited-for path's directory is shown to the stage: not one holding the user's files.
  const r5 = await runCli(["boot", "--wait-for", join(tmpdir(), "go")]);
  assert.is(r5.stderr, `bencher-run: --wait-for ${join(tmpdir(), "go")}: ${tmpdir()} holds other files, which the stage would see (name a path in a new directory, or in the one the sockets are in)`);
  assert.is(r1.exitCode, 2, "options that do not go together: the command line is wrong");
  for (const r of [r2, r3, r4, r5]) assert.is(r.exitCode, 1);
});

test.run();
