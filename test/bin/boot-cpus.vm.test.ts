// bencher-run boot --cpus: the sandboxed boot stage pins its vCPU thread and
// says where everything ran; a list the host cannot honour is one line, exit 1.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./helpers.js";
import { resettingElf } from "./tiny-elf.js";
import { allowedCpus } from "../../lib/cpu-affinity/pinning.js";

const work = mkdtempSync(join(tmpdir(), "cli-boot-cpus-"));
const kernel = join(work, "tiny.elf");
const env = { BENCHER_RUN_CACHE: join(work, "cache") };
test.before(() => {
  chmodSync(work, 0o755);
  writeFileSync(kernel, resettingElf(), { mode: 0o644 });
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test("boot --cpus LAST --json: the result says vCPU 0 ran on that CPU and the VMM on the rest", async () => {
  const cpus = allowedCpus();
  const last = cpus.at(-1)!;
  const r = await runCli(["boot", "--kernel", kernel, "--timeout", "60", "--cpus", String(last), "--json"], env);
  assert.is(r.exitCode, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.is(result.exitReason, "reset");
  const rest = cpus.filter((c) => c !== last);
  assert.equal(result.pinning, { vcpuCpus: [last], vmmCpus: rest.length ? rest : null });

  const text = await runCli(["boot", "--kernel", kernel, "--timeout", "60", "--cpus", String(last), "--vcpus", "2", "--verbose"], env);
  assert.is(text.exitCode, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^vCPU threads on host CPU ${last}, ${last}; VMM threads on `, "m"));
  // The worker's own report of its affinity, from inside the sandbox.
  assert.match(text.stderr, new RegExp(`vCPU 0 thread \\d+ runs on CPU ${last}`));
});

test("boot --cpus with a CPU the host lacks, or bad syntax: one line, nothing started", async () => {
  const missing = await runCli(["boot", "--kernel", kernel, "--cpus", "4095"], env);
  assert.is(missing.exitCode, 1);
  assert.match(missing.stderr, /^bencher-run: --cpus 4095: CPU 4095 does not exist or is offline \(this host has CPUs [\d,-]+\)$/);
  const bad = await runCli(["boot", "--kernel", kernel, "--cpus", "1,,2"], env);
  assert.is(bad.exitCode, 2, "bad syntax is a usage error; a CPU the host lacks is the host's answer (1)");
  assert.match(bad.stderr, /^bencher-run: --cpus 1,,2: "" is not a CPU number or range/);
  assert.is(bad.stderr.split("\n").length, 1);
});

test.run();
