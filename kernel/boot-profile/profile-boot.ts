// Where a boot of our kernel spends its time, by guest-kernel function: boots
// it (with guest-init's initramfs, as the pipeline does) in our VMM, samples
// vCPU 0's RIP every few milliseconds (boot()'s BENCHER_BOOT_DEBUG sampler)
// and names each sample's function from the vmlinux symbols. On a nested PVM
// host, where guest-kernel code is emulated, this is how the boot costs in
// kernel/README.md were found.
//
//   node dist/kernel/boot-profile/profile-boot.js [--every MS] [--cmdline "ARGS"]
//        [--memory MiB] [--top N] [--timeline FILE]
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { locateKernel } from "../locate.js";
import { guestInitramfs } from "../../guest-init/initramfs.js";
import { boot } from "../../stages/boot/boot.js";
import { parseRipSampleMessage, type RipSample } from "../../stages/boot/rip-sample.js";
import { histogram, parseNm } from "./kernel-symbols.js";

const { values } = parseArgs({
  options: {
    every: { type: "string", default: "2" },
    cmdline: { type: "string", default: "" },
    memory: { type: "string", default: "256" },
    top: { type: "string", default: "40" },
    timeline: { type: "string" },
  },
});
function whole(name: "every" | "memory" | "top", min: number, max: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`profile-boot: --${name} ${values[name]}: must be a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
}
const everyMs = whole("every", 2, 10_000);
const memoryMiB = whole("memory", 64, 4096);
const top = whole("top", 1, 10_000);

const kernel = locateKernel();
const symbols = parseNm(execFileSync("nm", ["-n", kernel], { maxBuffer: 1 << 28 }).toString());
const work = mkdtempSync(join(tmpdir(), "bencher-profile-boot-"));
try {
  const initramfs = join(work, "initramfs.cpio");
  writeFileSync(initramfs, guestInitramfs());
  // The sampler is boot()'s own diagnostic; it reads its period from the environment.
  process.env.BENCHER_BOOT_DEBUG = String(everyMs);
  const samples: (RipSample & { at: number })[] = [];
  const started = performance.now();
  const result = await boot(
    { kernel, initramfs, vcpus: 1, memoryMiB, consoleLog: join(work, "console.log"), timeoutMs: 600_000, cmdline: values.cmdline },
    {
      progress: () => {},
      log: (level, message) => {
        const s = level === "debug" ? parseRipSampleMessage(message) : undefined;
        if (s) samples.push({ ...s, at: (performance.now() - started) / 1000 });
      },
      signal: new AbortController().signal,
    },
  );
  const kernelRips = samples.filter((s) => s.cpl === 0).map((s) => s.rip);
  console.log(`boot: ${result.exitReason}, guest-init after ${result.bootMs ?? "?"} ms, ${samples.length} samples every ${everyMs} ms (${kernelRips.length} in the kernel)`);
  for (const row of histogram(symbols, kernelRips).slice(0, top)) {
    console.log(`${String(row.samples).padStart(7)} ${(100 * row.share).toFixed(1).padStart(5)}%  ~${((row.samples * everyMs) / 1000).toFixed(2)} s  ${row.name}`);
  }
  if (values.timeline) {
    writeFileSync(values.timeline, samples.map((s) => `${s.at.toFixed(3)} ${s.cpl} ${s.rip.toString(16)} ${symbols.at(s.rip) ?? "?"}\n`).join(""));
    console.log(`timeline: ${values.timeline} (seconds since the start, CPL, RIP, function)`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
