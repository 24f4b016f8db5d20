// bencher-run boot end to end: the coordinator opens /dev/kvm, the sandboxed
// boot stage runs a tiny guest through the handed-over descriptor.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { chmodSync, chownSync, mkdirSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, runCli } from "./helpers.js";
import { resettingElf, spinningElf } from "./tiny-elf.js";

const work = mkdtempSync(join(tmpdir(), "cli-boot-test-"));
const kernel = join(work, "tiny.elf");
const cache = join(work, "cache");
test.before(() => {
  chmodSync(work, 0o755);
  writeFileSync(kernel, resettingElf(), { mode: 0o644 });
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test("boot --json: the guest runs and resets; the console log lands where asked", async () => {
  const consoleLog = join(work, "console.txt");
  const r = await runCli(["boot", "--kernel", kernel, "--timeout", "60", "--console-log", consoleLog, "--json"], { BENCHER_RUN_CACHE: cache });
  assert.is(r.exitCode, 0, r.stderr);
  const manifest = JSON.parse(r.stdout);
  assert.is(manifest.stage, "boot");
  assert.is(manifest.exitReason, "reset");
  assert.is(manifest.consoleLog, consoleLog);
  assert.ok(existsSync(consoleLog));
  assert.equal(readdirSync(join(cache, "runs")), [], "no run directory left");
});

test("boot exits 1 when the VM does not end by the guest's own reset or power-off", async () => {
  const spinning = join(work, "spin.elf");
  writeFileSync(spinning, spinningElf(), { mode: 0o644 });
  const r = await runCli(["boot", "--kernel", spinning, "--timeout", "2"], { BENCHER_RUN_CACHE: cache });
  assert.is(r.exitCode, 1, r.stderr);
  assert.match(r.stdout, /^VM ended: timeout /);
  assert.equal(readdirSync(join(cache, "runs")), [], "no run directory left");
});

test("boot --wait-for: the vCPUs start once the path appears; the summary says how long the VM was held", async () => {
  mkdirSync(join(work, "trigger"), { mode: 0o755 });
  const trigger = join(work, "trigger", "go");
  const booting = execa(cli, ["boot", "--kernel", kernel, "--timeout", "60", "--wait-for", trigger, "--verbose"], { reject: false, env: { BENCHER_RUN_CACHE: cache }, stdin: "ignore" });
  // Once the VM is set up (a slow host takes seconds), it says it holds; then it waits as long as the path is missing.
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    booting.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes("VM set up: holding its vCPUs until the awaited path exists")) resolve();
    });
    booting.then(() => reject(new Error(`ended before holding: ${stderr}`)), reject);
  });
  await new Promise((r) => setTimeout(r, 800));
  assert.is(booting.exitCode, null, "still held: the guest would have reset at once");
  writeFileSync(trigger, "");
  const r = await booting;
  assert.is(r.exitCode, 0, stderr);
  assert.match(String(r.stdout), new RegExp(`^VM ended: reset .* after \\d+ ms \\(held \\d+ ms before that, waiting for ${trigger}\\)$`));
  const held = Number(/held (\d+) ms/.exec(String(r.stdout))![1]);
  assert.ok(held >= 700, `held ${held} ms`);
});

test("boot without access to /dev/kvm: one line pointing at doctor", async () => {
  if (process.getuid!() !== 0) return;
  const userCache = join(work, "user-cache");
  mkdirSync(userCache);
  chownSync(userCache, 65534, 65534);
  const r = await execa("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", cli, "boot", "--kernel", kernel], { reject: false, env: { BENCHER_RUN_CACHE: userCache } });
  assert.is(r.exitCode, 1);
  assert.is(String(r.stderr), "bencher-run: /dev/kvm: permission denied (add yourself to the kvm group; see bencher-run doctor)");
});

test("boot with a file that is not a kernel: the stage's one-line error", async () => {
  const bogus = join(work, "bogus");
  writeFileSync(bogus, "not a kernel", { mode: 0o644 });
  const r = await runCli(["boot", "--kernel", bogus], { BENCHER_RUN_CACHE: cache });
  assert.is(r.exitCode, 1);
  assert.is(r.stderr, `bencher-run: boot: kernel ${bogus}: neither an ELF vmlinux nor a bzImage`);
});

test.run();
