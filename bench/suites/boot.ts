// Our VMM (the boot stage executable, i.e. boot() behind parseBootRequest)
// beside QEMU's microvm machine: the same kernel, initramfs (guest-init) and
// root image, timed from process start to guest-init's first console line.
// No bencher.port is on the command line, so guest-init's first line is its
// diagnostic saying so, after which it resets the VM: both VMMs then exit.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { guestCmdline } from "../../kernel/cmdline.js";
import { qemuCpuModel } from "../../lib/reference/qemu-microvm.js";
import { locateKernel } from "../../kernel/locate.js";
import { guestInitramfs } from "../../guest-init/initramfs.js";
import type { BootRequest } from "../../stages/boot/request.js";
import { startBootStage } from "../lib/boot-stage.js";
import { GUEST_INIT_MARKER, watchFile, watchStream, type MarkerWatch } from "../lib/console-marker.js";
import { echoRootImage } from "../lib/echo-root.js";
import { spawnMeasured, type MeasuredProcess } from "../lib/measure.js";
import { commandPid, guestRamResidentKiB } from "../lib/proc-memory.js";
import { median } from "../lib/stats.js";
import { emptyResult, failedRow, type BenchContext, type Sample, type Suite, type SuiteResult } from "../lib/suite.js";
import { formatMiB, formatSeconds } from "../lib/table.js";

const MEMORY_MIB = 256;
const TIMEOUT_MS = 6 * 60_000;
/** Both kernels print only warnings and worse: the serial console costs a VM exit per byte here. */
const QUIET = "quiet";
/** How long QEMU may go on after guest-init's line before it is stopped. */
const QEMU_GRACE_MS = 1000;

export interface VmBoot extends Sample {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Seconds from process start to guest-init's first line; undefined if it never came. */
  toGuestInit?: number;
  /** Resident guest RAM at its largest, KiB. */
  guestRamKiB?: number;
  /** Our VMM only: ms before the first KVM_RUN, and why the VM ended. */
  startupMs?: number;
  exitReason?: string;
  consoleTail: string;
}

interface BootFiles {
  kernel: string;
  initramfs: string;
  disk: string;
}

/** Samples the guest RAM's resident size every second while the VMM runs. */
function sampleGuestRam(p: MeasuredProcess): () => number | undefined {
  let most: number | undefined;
  const timer = setInterval(() => {
    if (p.child.pid === undefined) return;
    const kib = guestRamResidentKiB(commandPid(p.child.pid), MEMORY_MIB);
    if (kib !== undefined) most = Math.max(most ?? 0, kib);
  }, 1000);
  p.done.finally(() => clearInterval(timer)).catch(() => {});
  return () => most;
}

async function finish(p: MeasuredProcess, watch: MarkerWatch, guestRam: () => number | undefined): Promise<VmBoot> {
  const timer = setTimeout(() => p.stop(), TIMEOUT_MS);
  const m = await p.done.finally(() => clearTimeout(timer));
  watch.stop();
  return {
    seconds: m.seconds,
    peakKiB: m.peakKiB,
    exitCode: m.exitCode,
    signal: m.signal,
    toGuestInit: watch.seenAt === undefined ? undefined : (watch.seenAt - p.startedAt) / 1000,
    guestRamKiB: guestRam(),
    consoleTail: watch.text.slice(-600),
  };
}

export async function bootOurs(files: BootFiles, dir: string, run: number): Promise<VmBoot> {
  const consoleLog = join(dir, `console-${run}.log`);
  const request: BootRequest = {
    kernel: files.kernel, initramfs: files.initramfs, cmdline: QUIET, vcpus: 1, memoryMiB: MEMORY_MIB,
    disk: { path: files.disk, overlay: join(dir, `overlay-${run}`) }, consoleLog, timeoutMs: TIMEOUT_MS,
  };
  const stage = startBootStage(request);
  const watch = watchFile(consoleLog, GUEST_INIT_MARKER);
  const guestRam = sampleGuestRam(stage.process);
  const { result, error } = await stage.outcome;
  const boot = await finish(stage.process, watch, guestRam);
  if (error) throw new Error(`our VMM: ${error.message}`);
  return { ...boot, startupMs: result?.startupMs, exitReason: result?.exitReason };
}

export async function bootQemu(files: BootFiles): Promise<VmBoot> {
  const p = spawnMeasured("qemu-system-x86_64", [
    "-enable-kvm", "-M", "microvm,acpi=off", "-cpu", qemuCpuModel(), "-m", String(MEMORY_MIB), "-smp", "1",
    "-kernel", files.kernel, "-initrd", files.initramfs, "-append", guestCmdline(),
    // snapshot=on: writes stay in QEMU's temporary overlay, as ours go to a per-run overlay.
    "-drive", `id=root,file=${files.disk},format=raw,if=none,snapshot=on`, "-device", "virtio-blk-device,drive=root",
    "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  // guest-init resets the VM after its line, but microvm has no keyboard controller to reset through: stop QEMU.
  const watch = watchStream(p.child.stdout!, GUEST_INIT_MARKER, () => setTimeout(() => p.kill("SIGTERM"), QEMU_GRACE_MS));
  let stderr = "";
  p.child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const boot = await finish(p, watch, sampleGuestRam(p));
  if (boot.toGuestInit === undefined) {
    const tail = (stderr.trim() || boot.consoleTail).slice(-300).replace(/\s+/g, " ");
    throw new Error(`QEMU: guest-init never spoke (exit ${boot.exitCode ?? boot.signal}): ${tail}`);
  }
  return boot;
}

export const QEMU_BOOT_KEY = "qemu-boot-seconds";

export const bootSuite: Suite = {
  name: "boot",
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const result = emptyResult();
    const name = "boot to guest-init's first line";
    const runs = ctx.runs;
    const denied = ctx.bootsDenied(2 * runs);
    if (denied) {
      result.rows.push({ benchmark: name, skipped: denied });
      return result;
    }
    let files: BootFiles;
    const dir = join(ctx.work, "boot");
    mkdirSync(dir, { recursive: true });
    try {
      const initramfs = join(dir, "initramfs.cpio");
      writeFileSync(initramfs, guestInitramfs());
      files = { kernel: locateKernel(), initramfs, disk: await echoRootImage(ctx) };
    } catch (err) {
      result.rows.push(failedRow(name, err));
      return result;
    }

    const ours: VmBoot[] = [];
    const qemu: VmBoot[] = [];
    const failures: string[] = [];
    for (let run = 0; run < runs; run++) {
      for (const who of run % 2 === 0 ? ["ours", "qemu"] : ["qemu", "ours"]) {
        ctx.log(`${name}: ${who === "ours" ? "our VMM" : "QEMU"}, run ${run + 1}/${runs} (a boot takes minutes on a nested PVM host)`);
        try {
          const b = who === "ours" ? await bootOurs(files, dir, run) : await bootQemu(files);
          (who === "ours" ? ours : qemu).push(b);
          ctx.log(`  ${who}: guest-init after ${formatSeconds(b.toGuestInit)}, ended after ${formatSeconds(b.seconds)}${b.exitReason ? ` (${b.exitReason})` : ""}`);
        } catch (err) {
          failures.push(`${who === "ours" ? "our VMM" : "QEMU"}: ${(err as Error).message.split("\n")[0]}`);
          ctx.log(`  ${who}: ${(err as Error).message}`);
        }
      }
    }
    // Time to guest-init is the metric; a boot that never got there is reported, not timed.
    const reached = (bs: VmBoot[]) => bs.filter((b) => b.toGuestInit !== undefined).map((b) => ({ seconds: b.toGuestInit!, peakKiB: b.peakKiB }));
    const oursReached = reached(ours);
    const qemuReached = reached(qemu);
    if (qemuReached.length) ctx.shared.set(QEMU_BOOT_KEY, qemuReached.map((s) => s.seconds));
    const missed = ours.filter((b) => b.toGuestInit === undefined);
    for (const b of missed) failures.push(`our VMM ended (${b.exitReason ?? "?"}) after ${formatSeconds(b.seconds)} without guest-init's line; console tail: ${b.consoleTail.slice(-300).replace(/\s+/g, " ")}`);
    if (oursReached.length || qemuReached.length) {
      result.rows.push({
        benchmark: name,
        ...(oursReached.length ? { ours: { label: "our VMM (boot stage)", samples: oursReached } } : {}),
        ...(qemuReached.length ? { peer: { label: "QEMU microvm", samples: qemuReached } } : {}),
        ...(oursReached.length ? {} : { skipped: "our VMM did not reach guest-init" }),
      });
    } else {
      result.rows.push({ benchmark: name, skipped: `failed: ${failures[0] ?? "no boot reached guest-init"}` });
    }

    const beyond = (bs: VmBoot[]) => {
      const xs = bs.filter((b) => b.peakKiB !== undefined && b.guestRamKiB !== undefined).map((b) => b.peakKiB! - b.guestRamKiB!);
      return xs.length ? median(xs) : undefined;
    };
    const med = (xs: (number | undefined)[]) => {
      const ys = xs.filter((x): x is number => x !== undefined);
      return ys.length ? median(ys) : undefined;
    };
    const startup = med(ours.map((b) => b.startupMs));
    result.tables.push({
      title: `VMM details (${MEMORY_MIB} MiB guest, 1 vCPU; medians)`,
      headers: ["", "our VMM", "QEMU microvm"],
      rows: [
        ["start-up before the first KVM_RUN", formatSeconds(startup === undefined ? undefined : startup / 1000), "–"],
        ["peak RSS beyond resident guest RAM", formatMiB(beyond(ours)), formatMiB(beyond(qemu))],
        ["resident guest RAM at its largest", formatMiB(med(ours.map((b) => b.guestRamKiB))), formatMiB(med(qemu.map((b) => b.guestRamKiB)))],
        ["process start to VM ended", formatSeconds(med(ours.map((b) => b.seconds))), "stopped by us"],
      ],
      data: {
        ours: ours.map(({ consoleTail, ...b }) => b),
        qemu: qemu.map(({ consoleTail, ...b }) => b),
        failures,
      },
    });
    result.notes.push(...failures.map((f) => `boot: ${f}`));
    if (qemu.length) result.notes.push(`boot: QEMU is stopped ${QEMU_GRACE_MS / 1000} s after guest-init's line: the guest resets through the keyboard controller, which microvm lacks`);
    return result;
  },
};
