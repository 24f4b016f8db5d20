// A virtual machine: KVM VM, guest RAM, vCPU worker threads, the port I/O and
// MMIO buses with their devices, and the event loop that services exits until
// the guest stops, the deadline passes or the caller aborts.
import { setImmediate as setImmediatePromise } from "node:timers/promises";
import type { Worker } from "node:worker_threads";
import { Kvm, Vm } from "./kvm/kvm.js";
import { Vcpu } from "./kvm/vcpu.js";
import { pthreadKill, view, writeFd } from "./kvm/libc.js";
import { exitReasons, KVM_MP_STATE_RUNNABLE } from "./kvm/constants.js";
import { KVM_EXIT_IO_OUT, runOffsets } from "./kvm/structs.js";
import { GuestMemory } from "./guest-memory.js";
import { availableHostMiB, describeHugePages, memoryProblem, transparentHugePages } from "./host-memory.js";
import { NotifyEvents } from "./notify-events.js";
import { InterruptLine, MmioDevice } from "./devices/device.js";
import { MmioBus, PioBus } from "./devices/bus.js";
import { Serial } from "./devices/serial.js";
import { I8042, I8042_COMMAND, I8042_DATA } from "./devices/i8042.js";
import { irqs, layout, ramRegions } from "./loader/layout.js";
import { setupVcpu } from "./vcpu-setup.js";
import { ramBeyondAddressWidth } from "./address-width.js";
import { ReadMirrors } from "./read-mirror.js";
import { VCPU_WORKER_SCRIPT } from "./thread-scripts.js";
import { startWorker } from "./worker-spares.js";
import { cpusProblem, describePinning, planPinning, type CpuPinning } from "../../lib/cpu-affinity/pinning.js";
import { keepProcessOn, processAffinity } from "../../lib/cpu-affinity/sched-affinity.js";
import {
  CONTROL_BYTES, DOORBELL, ENDED, EXITED, POSTED_PIO, RING_ENTRIES, RING_ENTRY_BYTES, RING_HEAD, RING_TAIL, RUNNING, SAMPLE,
  STATE, STOP, THREAD, VcpuEnd, VcpuPinned, VcpuSample, VcpuWorkerData,
} from "./vcpu-channel.js";

export const SERIAL_PORT = 0x3f8;
const KICK_SIGNAL = 12; // SIGUSR2: interrupts a KVM_RUN so its thread sees the stop request

export type ExitReason =
  | "power-off" | "reset" | "triple-fault" | "timeout" | "aborted" | "internal-error" | "vmm-error";

export interface MachineExit {
  exitReason: ExitReason;
  detail?: string;
  /** Instruction assists performed, by name (nested PVM hosts only). */
  assists: Record<string, number>;
  /** ms from the machine's creation until its vCPUs could start (a hold not included). */
  startupMs: number;
  /** Port and MMIO reads the vCPU threads answered from mirrored registers. */
  readsAnswered: number;
}

export interface MachineOptions {
  memoryMiB: number;
  vcpus: number;
  /** An open /dev/kvm (from the coordinator); opened here when absent. */
  kvmFd?: number;
  /** Perform instruction assists on emulation failures (nested PVM hosts). */
  assists: boolean;
  /** Shape CPUID for a nested PVM host (see vcpu-setup.ts: no TSC-deadline timer, fewer KVM PV features). */
  pvmHostCpuid?: boolean;
  /** Catch virtio queue notifications with ioeventfds when KVM can (default true; false: every one exits). */
  ioeventfd?: boolean;
  /** Let the vCPU threads answer reads of the registers devices publish (read-mirror.ts; default true; false: every read goes to the main thread). */
  mirroredReads?: boolean;
  /** Back guest RAM with transparent huge pages when the host offers them (default true). */
  hugePages?: boolean;
  /** The host's free memory in MiB (default: MemAvailable from /proc/meminfo); more guest RAM is refused. */
  hostAvailableMiB?: number;
  /**
   * Host CPUs for the vCPU threads: vCPU i runs on cpus[i % n]. While the
   * machine runs, the process's other threads are kept on the remaining
   * CPUs this process may use (when there are any).
   */
  cpus?: number[];

  /** Receives everything the guest writes to the serial console. */
  console: (bytes: Uint8Array) => void;
  log?: (message: string) => void;
}

export interface MmioSlot {
  addr: number;
  size: number;
  irq: number;
  interrupt: InterruptLine;
}

export { MAX_MEMORY_MIB, MAX_VCPUS } from "./limits.js";
import { MAX_MEMORY_MIB, MAX_VCPUS, MIN_MEMORY_MIB } from "./limits.js";

interface VcpuHandle {
  vcpu: Vcpu;
  control: Int32Array;
  ring: SharedArrayBuffer;
  thread: BigInt64Array;
  worker?: Worker;
  end?: VcpuEnd;
}

// Atomics.waitAsync is in Node 20 but not in the ES2022 library types.
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/**
 * Exits a vCPU loop may service back to back before it gives way to the
 * event loop. A vCPU that exits again before the loop reaches its wait (a
 * guest reading a port in a tight loop: on hardware KVM an exit takes
 * microseconds) would otherwise keep the main thread to itself, and the
 * run's deadline, the other devices and the sockets would never run.
 */
const EXITS_BEFORE_YIELD = 256;

let kickListeners = 0;
const onKick = () => {};

export class Machine {
  readonly kvm: Kvm;
  readonly vm: Vm;
  readonly mem: GuestMemory;
  /** Registers the devices publish for the vCPU threads to read themselves. */
  readonly mirrors: ReadMirrors;
  readonly pio: PioBus;
  readonly mmio: MmioBus;
  readonly serial: Serial;
  readonly mmioSlots: MmioSlot[] = [];
  /** Guest RAM is marked for transparent huge pages. */
  readonly hugePages: boolean = false;
  /** Doorbell writes KVM catches without an exit (ioeventfd). */
  readonly notifyEvents: NotifyEvents;
  /** Exits serviced here, by "pio:<port>" or "mmio:<addr>" (what costs round trips). */
  readonly exitCounts = new Map<string, number>();
  private readonly vcpus: VcpuHandle[] = [];
  private readonly memAddr: bigint;
  private readonly created = performance.now();
  private stopReason: { exitReason: ExitReason; detail?: string } | undefined;
  /** ms the ready machine waited for run()'s `hold` before its vCPUs started. */
  heldMs = 0;
  private onStopped: () => void = () => {};
  /** Resolved by stop(): ends a hold early. */
  private readonly stopped = new Promise<void>((resolve) => (this.onStopped = resolve));
  private closed = false;
  /** Where the vCPU threads and the VMM's other threads run, when `cpus` was given. */
  readonly pinning: CpuPinning | undefined;

  constructor(readonly options: MachineOptions) {
    const { memoryMiB, vcpus } = options;
    this.mirrors = new ReadMirrors(options.mirroredReads ?? true);
    this.pio = new PioBus(this.mirrors);
    this.mmio = new MmioBus(this.mirrors);
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) throw new Error(`vcpus: ${vcpus} is not a whole number from 1 to ${MAX_VCPUS}`);
    if (!Number.isInteger(memoryMiB) || memoryMiB < MIN_MEMORY_MIB || memoryMiB > MAX_MEMORY_MIB) {
      throw new Error(`memoryMiB: ${memoryMiB} is not a whole number from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB}`);
    }
    const unbacked = memoryProblem(memoryMiB, options.hostAvailableMiB ?? availableHostMiB());
    if (unbacked) throw new Error(`memoryMiB: ${unbacked}`);
    if (options.cpus) {
      const allowed = processAffinity();
      const problem = cpusProblem(options.cpus, { allowed });
      if (problem) throw new Error(`cpus: ${problem}`);
      this.pinning = planPinning(options.cpus, vcpus, allowed);
    }
    this.kvm = Kvm.open(options.kvmFd);
    try {
      this.vm = Vm.create(this.kvm);
    } catch (err) {
      this.kvm.close();
      throw err;
    }
    try {
      const thp = transparentHugePages();
      const wanted = options.hugePages ?? true;
      const regions = ramRegions(memoryMiB * 2 ** 20);
      const slots = this.kvm.memorySlots();
      if (regions.length > slots) throw new Error(`memoryMiB: ${memoryMiB} MiB needs ${regions.length} KVM memory slots, and this host's KVM offers ${slots}`);
      const supported = this.kvm.supportedCpuid();
      const beyondAddressWidth = ramBeyondAddressWidth(regions, supported);
      if (beyondAddressWidth) throw new Error(`memoryMiB: ${memoryMiB} MiB ${beyondAddressWidth}`);
      const ram = this.vm.addRam(regions, { hugePages: wanted && thp !== "never" });
      const huge = describeHugePages(wanted, thp, ram);
      this.hugePages = huge.used;
      options.log?.(`guest RAM: ${memoryMiB} MiB in ${regions.length} region(s); transparent huge pages: ${huge.text}`);
      this.memAddr = ram.addr;
      this.mem = GuestMemory.fromHost(ram.addr, ram.size, view);
      this.notifyEvents = new NotifyEvents(this.vm, options.ioeventfd ?? true);
      this.vm.setTssAddress(layout.kvmTss);
      this.vm.createInterruptControllers();
      const runSize = this.kvm.vcpuMmapSize();
      for (let i = 0; i < vcpus; i++) {
        const vcpu = new Vcpu(this.vm.createVcpu(i), i, runSize);
        const control = new SharedArrayBuffer(CONTROL_BYTES);
        const ring = new SharedArrayBuffer(RING_ENTRIES * RING_ENTRY_BYTES);
        this.vcpus.push({ vcpu, control: new Int32Array(control), ring, thread: new BigInt64Array(control) });
        const { refusedMsrs } = setupVcpu(vcpu, supported, vcpus, { pvmHost: options.pvmHostCpuid });
        if (refusedMsrs.length && i === 0) options.log?.(`KVM refused MSRs ${refusedMsrs.map((m) => "0x" + m.toString(16)).join(", ")}`);
      }
      this.serial = new Serial(SERIAL_PORT, this.interruptLine(irqs.serial), options.console);
      this.pio.add(SERIAL_PORT, 8, this.serial);
      const i8042 = new I8042(() => this.stop("reset", "the guest reset the machine through the i8042"));
      this.pio.add(I8042_DATA, 1, i8042);
      this.pio.add(I8042_COMMAND, 1, i8042);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  vcpu(index: number): Vcpu {
    return this.vcpus[index].vcpu;
  }

  get vcpuCount(): number {
    return this.vcpus.length;
  }

  /** Raises `irq` as an edge: through an irqfd when KVM has them (a write, no ioctl). */
  interruptLine(irq: number): InterruptLine {
    if (this.vm.hasIrqfd) {
      const fd = this.vm.irqfd(irq);
      const one = new Uint8Array(8);
      one[0] = 1;
      return { trigger: () => void writeFd(fd, one) };
    }
    return {
      trigger: () => {
        this.vm.irqLine(irq, 1);
        this.vm.irqLine(irq, 0);
      },
    };
  }

  /**
   * Places an MMIO device (e.g. a virtio-mmio transport) in the next 4 KiB
   * window above 0xd0000000 with the next free IRQ; `create` gets the window
   * and its interrupt line. The slot is what the kernel command line names.
   */
  addMmioDevice(create: (slot: MmioSlot) => MmioDevice): MmioSlot {
    const n = this.mmioSlots.length;
    const irq = irqs.firstVirtio + n;
    if (irq > irqs.lastVirtio) throw new Error(`too many MMIO devices: at most ${irqs.lastVirtio - irqs.firstVirtio + 1}`);
    const slot: MmioSlot = { addr: layout.virtioMmioBase + n * layout.virtioMmioStride, size: layout.virtioMmioStride, irq, interrupt: this.interruptLine(irq) };
    const device = create(slot);
    this.mmio.add(slot.addr, slot.size, device);
    this.notifyEvents.watch(slot.addr, device);
    this.mmioSlots.push(slot);
    return slot;
  }

  /** Called with each vCPU's RIP after sampleRips() (diagnostics). */
  onSample: ((index: number, sample: VcpuSample) => void) | undefined;

  /** Asks every running vCPU where it is; answers arrive through onSample. */
  sampleRips(): void {
    for (const h of this.vcpus) {
      const thread = h.thread[THREAD];
      if (thread === 0n || Atomics.load(h.control, STATE) !== RUNNING) continue;
      Atomics.store(h.control, SAMPLE, 1);
      pthreadKill(BigInt.asUintN(64, thread), KICK_SIGNAL);
    }
  }

  /** Ends the run (from a device, a timer or the caller); the first reason given wins. */
  stop(exitReason: ExitReason, detail?: string): void {
    if (this.stopReason) return;
    this.stopReason = { exitReason, detail };
    this.onStopped();
    for (const h of this.vcpus) {
      Atomics.store(h.control, STOP, 1);
      h.vcpu.run[runOffsets.immediateExit] = 1;
      // A vCPU inside KVM_RUN only notices through a signal (EINTR).
      const thread = h.thread[THREAD];
      if (thread !== 0n && Atomics.load(h.control, STATE) === RUNNING) pthreadKill(BigInt.asUintN(64, thread), KICK_SIGNAL);
    }
  }

  /**
   * Starts every vCPU and services exits until the machine stops.
   * `startAll`: make the APs runnable at once (test guests) instead of
   * waiting for the BSP's INIT/SIPI (Linux). `hold`: the vCPUs start only
   * when it resolves (the machine is ready meanwhile, so its set-up is off
   * the caller's critical path); the timeout and the signal apply from the
   * call, and a hold that rejects ends the run as a VMM error.
   */
  async run(opts: { timeoutMs?: number; signal?: AbortSignal; startAll?: boolean; hold?: Promise<unknown> } = {}): Promise<MachineExit> {
    if (this.closed) throw new Error("machine: run after close");
    // Handled from here on, even while the set-up below is awaited.
    const held = opts.hold?.then(() => undefined, (err: unknown) => (err instanceof Error ? err.message : String(err)));
    // The VM's set-up (the PIT's mode, done in the background) is complete before a vCPU runs.
    await this.vm.ready();
    if (opts.startAll) for (const h of this.vcpus.slice(1)) h.vcpu.setMpState(KVM_MP_STATE_RUNNABLE);
    const onAbort = () => this.stop("aborted", String(opts.signal?.reason ?? "aborted"));
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener("abort", onAbort);
    const timer = opts.timeoutMs !== undefined
      ? setTimeout(() => this.stop("timeout", `no end after ${opts.timeoutMs} ms`), opts.timeoutMs)
      : undefined;
    if (kickListeners++ === 0) process.on("SIGUSR2", onKick);
    const readyAt = performance.now();
    if (this.pinning) this.options.log?.(`CPU pinning: ${describePinning(this.pinning)}`);
    let restoreAffinity: (() => void) | undefined;
    if (this.mmioSlots.length) this.options.log?.(this.notifyEvents.describe());
    try {
      if (held) {
        // Said once the VM is ready, so a scheduler (or a test) knows the hold has begun.
        this.options.log?.("VM set up: holding its vCPUs until the awaited path exists");
        const failure = await Promise.race([held, this.stopped]);
        if (failure !== undefined) this.stop("vmm-error", `waiting to start: ${failure}`);
        this.heldMs = performance.now() - readyAt;
      }
      if (!this.stopReason) {
        // Before any thread starts, so they inherit it (vCPU workers then narrow themselves).
        if (this.pinning?.vmmCpus) restoreAffinity = keepProcessOn(this.pinning.vmmCpus);
        this.notifyEvents.start(() => this.drainAllPostedWrites(), (message) => this.stop("vmm-error", message));
        await Promise.all(this.vcpus.map((h) => this.serve(h)));
      }
    } finally {
      await this.notifyEvents.stop();
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (--kickListeners === 0) process.off("SIGUSR2", onKick);
      restoreAffinity?.();
    }
    const assists: Record<string, number> = {};
    let readsAnswered = 0;
    for (const h of this.vcpus) {
      for (const [name, n] of Object.entries(h.end?.assists ?? {})) assists[name] = (assists[name] ?? 0) + n;
      readsAnswered += h.end?.readsAnswered ?? 0;
    }
    const stop = this.stopReason ?? { exitReason: "vmm-error" as const, detail: "every vCPU stopped without a reason" };
    return { ...stop, assists, startupMs: readyAt - this.created, readsAnswered };
  }

  /** One vCPU: start its worker, then service its exits until it ends. */
  private async serve(h: VcpuHandle): Promise<void> {
    const data: VcpuWorkerData = {
      index: h.vcpu.index, vcpuFd: h.vcpu.fd, runAddr: h.vcpu.runAddr, runSize: h.vcpu.runSize,
      memAddr: this.memAddr, memSize: this.mem.size, control: h.control.buffer as SharedArrayBuffer, ring: h.ring,
      assists: this.options.assists,
      mirrors: this.mirrors.table(),
      hostCpu: this.pinning?.vcpuCpus[h.vcpu.index],
    };
    if (this.stopReason) return;
    const fail = (err: unknown) => this.stop("vmm-error", `servicing vCPU ${h.vcpu.index}: ${err instanceof Error ? err.message : String(err)}`);
    const worker = startWorker(VCPU_WORKER_SCRIPT, data);
    h.worker = worker;
    const exited = new Promise<void>((resolve) => {
      worker.on("message", (m: VcpuEnd | VcpuSample | VcpuPinned) => {
        if (m?.type === "sample") this.onSample?.(h.vcpu.index, m);
        if (m?.type === "pinned") this.options.log?.(`vCPU ${h.vcpu.index} thread ${m.tid} runs on CPU ${m.cpus.join(",")}`);
        if (m?.type !== "ended") return;
        h.end = m;
        // What the guest wrote before it ended happened first: a reset
        // through the i8042 (posted, so the vCPU ran on into Linux's
        // fallbacks and a triple fault) is the end's reason, not what came
        // after it. This message can be handled before the loop below wakes.
        try {
          this.drainPostedWrites(h);
        } catch (err) {
          fail(err);
        }
        if (m.reason !== "stopped") this.stop(vcpuEndReason(m.reason), m.detail);
      });
      worker.on("error", (err) => this.stop("vmm-error", `vCPU ${h.vcpu.index} thread: ${err.message}`));
      worker.on("exit", () => {
        // A worker that died without saying so must still end this loop.
        Atomics.store(h.control, STATE, ENDED);
        Atomics.add(h.control, DOORBELL, 1);
        Atomics.notify(h.control, DOORBELL);
        resolve();
      });
    });

    let backToBack = 0;
    for (;;) {
      if (++backToBack > EXITS_BEFORE_YIELD) {
        backToBack = 0;
        await setImmediatePromise();
      }
      // Read the doorbell first: anything posted after this wakes the wait below at once.
      const bell = Atomics.load(h.control, DOORBELL);
      try {
        this.drainPostedWrites(h);
      } catch (err) {
        fail(err);
      }
      const state = Atomics.load(h.control, STATE);
      if (state === ENDED) {
        // The worker may have posted its last writes (e.g. console bytes
        // just before a triple fault) between the drain above and ENDED.
        try {
          this.drainPostedWrites(h);
        } catch (err) {
          fail(err);
        }
        break;
      }
      if (state === EXITED) {
        try {
          // A vCPU posts its writes before it hands over a read, but they may
          // have landed after the drain above: perform them (and every other
          // vCPU's) first, or the read sees the device as it was before them
          // (seen: a virtio status read-back missing FEATURES_OK, so Linux
          // dropped the vsock device under load).
          this.drainAllPostedWrites();
          this.service(h.vcpu);
        } catch (err) {
          fail(err);
        }
        Atomics.store(h.control, STATE, RUNNING);
        Atomics.notify(h.control, STATE);
        continue;
      }
      const waited = waitAsync(h.control, DOORBELL, bell);
      if (waited.async) {
        backToBack = 0;
        await waited.value;
      }
    }
    await exited;
  }

  private drainAllPostedWrites(): void {
    for (const h of this.vcpus) this.drainPostedWrites(h);
  }

  /** Performs, in order, the writes the vCPU posted without waiting. */
  private drainPostedWrites(h: VcpuHandle): void {
    const head = Atomics.load(h.control, RING_HEAD);
    let tail = Atomics.load(h.control, RING_TAIL);
    if (tail === head) return;
    const ring = new Uint8Array(h.ring);
    const view = new DataView(h.ring);
    for (; tail !== head; tail++) {
      const o = (tail % RING_ENTRIES) * RING_ENTRY_BYTES;
      const addr = view.getFloat64(o + 8, true);
      const data = ring.slice(o + 16, o + 16 + ring[o + 1]);
      if (ring[o] === POSTED_PIO) {
        this.count(`pio:0x${addr.toString(16)}`);
        this.pio.write(addr, data);
      } else {
        this.count(`mmio:0x${addr.toString(16)}`);
        this.mmio.write(addr, data);
      }
      Atomics.store(h.control, RING_TAIL, tail + 1);
      this.mirrors.performed();
    }
  }

  /** A port I/O or MMIO exit: the data lives in kvm_run, shared with the worker. */
  private service(vcpu: Vcpu): void {
    const run = vcpu.runView;
    const reason = run.getUint32(runOffsets.exitReason, true);
    if (reason === exitReasons.IO) {
      const out = run.getUint8(runOffsets.ioDirection) === KVM_EXIT_IO_OUT;
      const size = run.getUint8(runOffsets.ioSize);
      const port = run.getUint16(runOffsets.ioPort, true);
      const count = run.getUint32(runOffsets.ioCount, true);
      const dataOffset = Number(run.getBigUint64(runOffsets.ioDataOffset, true));
      this.count(`pio:0x${port.toString(16)}`);
      for (let i = 0; i < count; i++) {
        const data = vcpu.run.subarray(dataOffset + i * size, dataOffset + (i + 1) * size);
        if (out) this.pio.write(port, data);
        else this.pio.read(port, data);
      }
    } else if (reason === exitReasons.MMIO) {
      const addr = Number(run.getBigUint64(runOffsets.mmioPhysAddr, true));
      const len = Math.min(8, run.getUint32(runOffsets.mmioLen, true));
      const data = vcpu.run.subarray(runOffsets.mmioData, runOffsets.mmioData + len);
      this.count(`mmio:0x${addr.toString(16)}`);
      if (run.getUint8(runOffsets.mmioIsWrite)) this.mmio.write(addr, data);
      else this.mmio.read(addr, data);
    }
  }

  private count(key: string): void {
    this.exitCounts.set(key, (this.exitCounts.get(key) ?? 0) + 1);
  }

  /** The most frequent serviced exits, e.g. "pio:0x3fd 1200, pio:0x3f8 600". */
  topExits(n = 8): string {
    return [...this.exitCounts].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k} ${v}`).join(", ");
  }

  /** Releases everything; the vCPU threads must have ended (after run()). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.vcpus) h.vcpu.dispose(true);
    this.vm?.close();
    this.kvm?.close();
  }
}

function vcpuEndReason(reason: VcpuEnd["reason"]): ExitReason {
  switch (reason) {
    case "shutdown": return "triple-fault";
    case "power-off": return "power-off";
    case "reset": return "reset";
    case "internal-error": return "internal-error";
    default: return "vmm-error";
  }
}


