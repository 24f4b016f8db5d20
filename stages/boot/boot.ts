// The boot stage's work: build the machine, load Linux, attach the devices,
// run until the guest stops, and say why it stopped and how long it took.
import { isNestedPvmHost } from "../../kernel/cmdline.js";
import type { StageContext } from "../../lib/ipc/stage.js";
import { ConsoleLog } from "./console-log.js";
import { ExitReason, Machine } from "./machine.js";
import { buildCmdline } from "./loader/cmdline.js";
import { loadLinux } from "./loader/linux.js";
import { openFileReader } from "./loader/image-reader.js";
import { BootRequest } from "./request.js";
import { VirtioMmioTransport } from "./virtio/mmio.js";
import { VirtioBlock } from "./devices/virtio-blk.js";
import { BlockDisk, CowOverlayDisk, RawFileDisk } from "./devices/virtio-blk-disk.js";
import { VirtioVsock } from "./devices/virtio-vsock.js";
import type { CpuPinning } from "../../lib/cpu-affinity/pinning.js";
import { kernelPanicMessage } from "./kernel-panic.js";
import { pathAppears } from "./path-appears.js";
import { ripSampleMessage } from "./rip-sample.js";

export interface BootResult {
  exitReason: ExitReason;
  /** Why, in words (e.g. the instruction an emulation failure stopped at). */
  detail?: string;
  /** ms from the start until the kernel started /init (its "Run /init" line, an info message: `quiet` hides it); absent if the console never showed it. Excludes heldMs. */
  bootMs?: number;
  /** ms the whole VM took, from the start of boot() to the end. Excludes heldMs. */
  wallMs: number;
  /** ms the VMM took before the first KVM_RUN could start (excludes heldMs). */
  startupMs: number;
  /** ms the ready VM waited for `holdUntilExists`, when the request named it. */
  heldMs?: number;
  /** Path of the console log, if one was asked for. */
  consoleLog?: string;
  /** The guest printed more than the console log keeps (CONSOLE_LOG_MAX_BYTES): the file stops there. */
  consoleLogCut?: boolean;
  /** The console's last lines, when the VM did not end by the guest's own power-off or reset (or it reset because its kernel panicked). */
  consoleTail?: string;
  /** The guest kernel's panic message, when it panicked (it then resets: exitReason "reset"). */
  panic?: string;
  /** Instruction assists performed (nested PVM hosts), by name. */
  assists: Record<string, number>;
  /** Where the vCPU threads ran (host CPU by vCPU index) and the VMM's other threads (null: no CPU left over), when the request named `cpus`. */
  pinning?: CpuPinning;
}

const INIT_MARKER = "Run /init as init process";

/** A clean end: the guest asked for it. */
const CLEAN: readonly ExitReason[] = ["power-off", "reset"];

type Cleanup = () => void | Promise<void>;

export async function boot(req: BootRequest, ctx: StageContext): Promise<BootResult> {
  const start = performance.now();
  const cleanups: Cleanup[] = [];
  const pvmHost = req.pvmHost ?? isNestedPvmHost();
  let machine: Machine | undefined;
  // The VM's own time: a hold (holdUntilExists) is not part of it.
  const sinceStart = () => performance.now() - start - (machine?.heldMs ?? 0);
  try {
    const stopWaiting = new AbortController();
    cleanups.push(() => stopWaiting.abort());
    const hold = req.holdUntilExists ? pathAppears(req.holdUntilExists, "holdUntilExists", stopWaiting.signal) : undefined;
    hold?.catch(() => {}); // a failed watch is m.run's to report, even if it fails during set-up
    // Opened now, so a missing file is reported before any VM is made; read
    // while loading, straight into guest RAM.
    const kernel = openFileReader(req.kernel, "kernel");
    cleanups.push(() => kernel.close());
    const initramfs = req.initramfs ? openFileReader(req.initramfs, "initramfs") : undefined;
    if (initramfs) cleanups.push(() => initramfs.close());

    let bootMs: number | undefined;
    const console = new ConsoleLog(req.consoleLog);
    cleanups.push(() => console.close());
    console.watch(INIT_MARKER, () => {
      bootMs = sinceStart();
      ctx.progress(null, `guest kernel started /init after ${Math.round(bootMs)} ms`);
    });

    machine = new Machine({
      memoryMiB: req.memoryMiB, vcpus: req.vcpus, kvmFd: req.kvmFd, assists: pvmHost, pvmHostCpuid: pvmHost, cpus: req.cpus,
      console: (b) => console.write(b), log: (m) => ctx.log("info", m),
    });
    const m = machine;
    const mmioError = (m2: string) => ctx.log("warn", m2);
    if (req.disk) {
      const disk: BlockDisk = req.disk.overlay
        ? CowOverlayDisk.open(req.disk.path, { overlayPath: req.disk.overlay })
        : RawFileDisk.open(req.disk.path, { readOnly: req.disk.readOnly ?? false });
      cleanups.push(() => disk.close());
      const blk = new VirtioBlock({ disk, readOnly: req.disk.readOnly, id: "bencher-root" });
      m.addMmioDevice((slot) => new VirtioMmioTransport(blk, { memory: m.mem, interrupt: slot.interrupt, onError: mmioError }));
    }
    if (req.vsockUds) {
      const vsock = await VirtioVsock.create({ guestCid: req.guestCid ?? 3, udsPath: req.vsockUds, log: (m) => ctx.log("warn", `vsock: ${m}`) });
      cleanups.push(() => vsock.close());
      m.addMmioDevice((slot) => new VirtioMmioTransport(vsock, { memory: m.mem, interrupt: slot.interrupt, onError: mmioError }));
    }
    const cmdline = buildCmdline({ extra: req.cmdline, virtio: m.mmioSlots, pvmHost, ...(req.quietCpus ? { quietCpusOf: req.vcpus } : {}) });
    const loaded = loadLinux(m, { kernel, initramfs, cmdline });
    // Loaded: the VM does not need the files any more.
    kernel.close();
    initramfs?.close();
    ctx.log("info", `${loaded.format} kernel entry 0x${loaded.entry.toString(16)}, ${req.vcpus} vCPU(s), ${req.memoryMiB} MiB${pvmHost ? ", nested PVM host: assists on" : ""}; cmdline: ${cmdline}`);

    // BENCHER_BOOT_DEBUG=1: report the busiest exits every 5 s while the guest runs.
    m.onSample = (i, sample) => ctx.log("debug", ripSampleMessage(i, sample));
    const debug = process.env.BENCHER_BOOT_DEBUG
      ? setInterval(() => {
          ctx.log("debug", `exits: ${m.topExits()}`);
          m.sampleRips();
        }, Number(process.env.BENCHER_BOOT_DEBUG) > 1 ? Number(process.env.BENCHER_BOOT_DEBUG) : 5000)
      : undefined;
    const exit = await m.run({ timeoutMs: req.timeoutMs, signal: ctx.signal, hold }).finally(() => clearInterval(debug));
    ctx.log("info", `VM ended (${exit.exitReason}); serviced exits: ${m.topExits()}; doorbell writes caught by ioeventfds: ${m.notifyEvents.writesCaught}; reads answered on vCPU threads: ${exit.readsAnswered}; assists: ${JSON.stringify(exit.assists)}`);
    const wallMs = sinceStart();
    console.flush();
    if (console.fileCut) ctx.log("warn", `the console log stopped at ${console.maxFileBytes} bytes; the guest printed ${console.bytesWritten}`);
    const panic = kernelPanicMessage(console.tailText(8192));
    const clean = CLEAN.includes(exit.exitReason) && panic === undefined;
    return {
      exitReason: exit.exitReason,
      ...(exit.detail ? { detail: exit.detail } : {}),
      ...(bootMs !== undefined ? { bootMs: Math.round(bootMs) } : {}),
      wallMs: Math.round(wallMs),
      startupMs: Math.round(exit.startupMs),
      ...(hold ? { heldMs: Math.round(m.heldMs) } : {}),
      ...(req.consoleLog ? { consoleLog: req.consoleLog } : {}),
      ...(console.fileCut ? { consoleLogCut: true } : {}),
      ...(clean ? {} : { consoleTail: console.tailText(4096) }),
      ...(panic !== undefined ? { panic } : {}),
      assists: exit.assists,
      ...(m.pinning ? { pinning: m.pinning } : {}),
    };
  } finally {
    machine?.close();
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch {
        // Cleanup must not hide the real outcome.
      }
    }
  }
}
