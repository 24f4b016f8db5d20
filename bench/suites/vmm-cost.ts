// The VMM's own cost, without a guest kernel in the way: our VMM (the boot
// stage executable) and QEMU's microvm machine each boot a guest of a few
// hundred bytes that prints one line and triple-faults (bench/lib/marker-guest.ts).
// Timed from process start to the guest's line and to process exit: start-up,
// VM creation, a handful of exits and teardown. On a nested PVM host this is
// the part of a boot the VMM controls (the guest kernel's boot is the host
// emulating kernel code, the same for both); on hardware KVM, where a Linux
// boot takes 0.1-0.2 s, it is a large share of the whole. Also timed: our VMM
// started ahead and held (as the pipeline starts it, beside collect, holding
// the vCPUs until collect's socket exists), from the moment its hold is
// released to the guest's line: what is left once its start-up and the VM's
// set-up are off the critical path. And the cost of one port read the guest
// waits for (Linux's console driver makes one before every byte it prints):
// the same guest reading the serial line status STATUS_READS times first,
// minus the plain guest, per read.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { qemuCpuModel } from "../../lib/reference/qemu-microvm.js";
import { startBootStage } from "../lib/boot-stage.js";
import { watchFile, watchStream, type MarkerWatch } from "../lib/console-marker.js";
import { markerGuestElf } from "../lib/marker-guest.js";
import { spawnMeasured, type MeasuredProcess } from "../lib/measure.js";
import { median } from "../lib/stats.js";
import { emptyResult, failedRow, type BenchContext, type Sample, type Suite, type SuiteResult } from "../lib/suite.js";
import { formatMiB, formatSeconds } from "../lib/table.js";

const MARKER = "bencher-marker-guest: up";
const MEMORY_MIB = 256;
const TIMEOUT_MS = 30_000;
/** Runs per side: each is a fraction of a second, so more than the Linux-boot suites take. */
const RUNS = { quick: 10, full: 30 };
/** How long the started-ahead VMM is held: its start-up and the VM's set-up are over by then. */
const AHEAD_MS = 1000;
/** Line status reads of the read-cost guest: enough that their time stands well above the run-to-run spread. */
const STATUS_READS = 20_000;
/** Our console log is polled this often (QEMU's console is a pipe, seen at once). */
const POLL_MS = 1;

interface TinyBoot extends Sample {
  /** Seconds from process start (started ahead: from the hold's release) to the guest's line. */
  toLine: number;
  /** Our VMM only: ms before the first KVM_RUN. */
  startupMs?: number;
}

async function finish(who: string, p: MeasuredProcess, watch: MarkerWatch): Promise<TinyBoot> {
  const timer = setTimeout(() => p.stop(), TIMEOUT_MS);
  const m = await p.done.finally(() => clearTimeout(timer));
  watch.stop();
  if (watch.seenAt === undefined) {
    throw new Error(`${who}: the guest's line never came (exit ${m.exitCode ?? m.signal}): ${watch.text.slice(-200).replace(/\s+/g, " ")}`);
  }
  if (m.exitCode !== 0) throw new Error(`${who}: exited with ${m.exitCode ?? m.signal}`);
  return { seconds: m.seconds, peakKiB: m.peakKiB, toLine: (watch.seenAt - p.startedAt) / 1000 };
}

/** `holdFile`: the VMM is held until this file appears, made AHEAD_MS after the start (the pipeline's collect socket). */
async function runOurs(kernel: string, consoleLog: string, holdFile?: string): Promise<TinyBoot> {
  if (holdFile) rmSync(holdFile, { force: true });
  const run = startBootStage({ kernel, vcpus: 1, memoryMiB: MEMORY_MIB, consoleLog, timeoutMs: TIMEOUT_MS, ...(holdFile ? { holdUntilExists: holdFile } : {}) });
  let releasedAt: number | undefined;
  const release = holdFile ? setTimeout(() => {
    releasedAt = performance.now();
    writeFileSync(holdFile, "");
  }, AHEAD_MS) : undefined;
  const watch = watchFile(consoleLog, MARKER, POLL_MS);
  const { result, error } = await run.outcome;
  clearTimeout(release);
  const boot = await finish("our VMM", run.process, watch);
  if (error) throw new Error(`our VMM: ${error.message}`);
  if (result?.exitReason !== "triple-fault") throw new Error(`our VMM: the VM ended by ${result?.exitReason}, not the guest's triple fault`);
  const ahead = releasedAt !== undefined ? { toLine: (watch.seenAt! - releasedAt) / 1000 } : {};
  return { ...boot, ...ahead, startupMs: result.startupMs };
}

async function runQemu(kernel: string): Promise<TinyBoot> {
  const p = spawnMeasured("qemu-system-x86_64", [
    "-enable-kvm", "-M", "microvm,acpi=off", "-cpu", qemuCpuModel(), "-m", String(MEMORY_MIB), "-smp", "1",
    // -no-reboot: the triple fault ends QEMU, as it ends our VMM.
    "-kernel", kernel, "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  p.child.stderr!.resume();
  return finish("QEMU", p, watchStream(p.child.stdout!, MARKER));
}

export const vmmCostSuite: Suite = {
  name: "vmm",
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const result = emptyResult();
    const name = "VMM's own cost: start, run a 300-byte guest, exit";
    const dir = join(ctx.work, "vmm");
    const kernel = join(dir, "marker-guest.elf");
    const reader = join(dir, "marker-guest-reads.elf");
    // Its guests are a few hundred bytes, not kernel boots: outside the boot budget, but they need KVM.
    const denied = ctx.bootsDenied(0);
    if (denied) {
      result.rows.push({ benchmark: name, skipped: denied });
      return result;
    }
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(kernel, markerGuestElf(MARKER));
      writeFileSync(reader, markerGuestElf(MARKER, { statusReads: STATUS_READS }));
    } catch (err) {
      result.rows.push(failedRow(name, err));
      return result;
    }
    const runs = ctx.quick ? RUNS.quick : RUNS.full;
    ctx.log(`${name}: ${runs} runs per side`);
    const ours: TinyBoot[] = [];
    const oursAhead: TinyBoot[] = [];
    const qemu: TinyBoot[] = [];
    const oursReads: TinyBoot[] = [];
    const qemuReads: TinyBoot[] = [];
    const failures: string[] = [];
    for (let run = 0; run < runs; run++) {
      const order = ["ours", "ahead", "qemu", "qemu-reads", "ours-reads"];
      for (const who of run % 2 === 0 ? order : order.reverse()) {
        try {
          if (who === "ours") ours.push(await runOurs(kernel, join(dir, `console-${run}.log`)));
          else if (who === "ahead") oursAhead.push(await runOurs(kernel, join(dir, `console-ahead-${run}.log`), join(dir, "listening")));
          else if (who === "ours-reads") oursReads.push(await runOurs(reader, join(dir, `console-reads-${run}.log`)));
          else if (who === "qemu-reads") qemuReads.push(await runQemu(reader));
          else qemu.push(await runQemu(kernel));
        } catch (err) {
          failures.push((err as Error).message.split("\n")[0]);
        }
      }
    }
    if (!ours.length && !qemu.length) {
      result.rows.push({ benchmark: name, skipped: `failed: ${failures[0]}` });
      return result;
    }
    result.rows.push({
      benchmark: name,
      ...(ours.length ? { ours: { label: "our VMM (boot stage)", samples: ours } } : { skipped: `failed: ${failures[0]}` }),
      ...(qemu.length ? { peer: { label: "QEMU microvm", samples: qemu } } : {}),
    });
    const med = (xs: (number | undefined)[]) => {
      const ys = xs.filter((x): x is number => x !== undefined);
      return ys.length ? median(ys) : undefined;
    };
    const startup = med(ours.map((b) => b.startupMs));
    /** Seconds per status read: the read guest's median time to its line minus the plain guest's. */
    const perRead = (withReads: TinyBoot[], plain: TinyBoot[]) => {
      const a = med(withReads.map((b) => b.toLine));
      const b = med(plain.map((p) => p.toLine));
      return a === undefined || b === undefined ? undefined : (a - b) / STATUS_READS;
    };
    result.tables.push({
      title: `VMM's own cost (the 300-byte guest, ${MEMORY_MIB} MiB, 1 vCPU; medians of ${runs})`,
      headers: ["", "our VMM", "QEMU microvm"],
      rows: [
        ["process start to the guest's line", formatSeconds(med(ours.map((b) => b.toLine))), formatSeconds(med(qemu.map((b) => b.toLine)))],
        ["process start to exit", formatSeconds(med(ours.map((b) => b.seconds))), formatSeconds(med(qemu.map((b) => b.seconds)))],
        [`started and held ${AHEAD_MS / 1000} s (as the pipeline runs it): release to the guest's line`, formatSeconds(med(oursAhead.map((b) => b.toLine))), "–"],
        ["VM set-up before the first KVM_RUN", formatSeconds(startup === undefined ? undefined : startup / 1000), "–"],
        [`a port read the guest waits for (serial line status; from ${STATUS_READS.toLocaleString("en")} reads)`, formatSeconds(perRead(oursReads, ours)), formatSeconds(perRead(qemuReads, qemu))],
        ["peak RSS", formatMiB(med(ours.map((b) => b.peakKiB))), formatMiB(med(qemu.map((b) => b.peakKiB)))],
      ],
      data: { ours, oursAhead, qemu, oursReads, qemuReads, statusReads: STATUS_READS, failures },
    });
    result.notes.push(...failures.map((f) => `vmm: ${f}`));
    return result;
  },
};
