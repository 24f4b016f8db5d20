// A vCPU thread: runs KVM_RUN in a loop (it blocks, so it gets its own
// worker_thread), performs instruction assists itself, and hands port I/O
// and MMIO exits to the main thread through the shared control block.
import { parentPort } from "node:worker_threads";
import { EAGAIN, EINTR, pthreadSelf, view } from "./kvm/libc.js";
import { Vcpu } from "./kvm/vcpu.js";
import { exitReasonName, exitReasons, systemEvents } from "./kvm/constants.js";
import { runOffsets } from "./kvm/structs.js";
import { GuestMemory } from "./guest-memory.js";
import {
  DOORBELL, ENDED, EXITED, POSTED_MMIO, POSTED_PIO, RING_ENTRIES, RING_ENTRY_BYTES, RING_HEAD, RING_TAIL, SAMPLE, STATE,
  STOP, THREAD, VcpuEnd, VcpuPinned, VcpuSample, VcpuWorkerData,
} from "./vcpu-channel.js";
import { KVM_EXIT_IO_OUT } from "./kvm/structs.js";
import type { performAssist as PerformAssist } from "./assists/perform.js";
import { getAffinity, setAffinity, threadId } from "../../lib/cpu-affinity/sched-affinity.js";
import { workerInput } from "./worker-spares.js";
import { MIRROR_MMIO, MIRROR_PIO, MirrorReader } from "./read-mirror.js";

const data = await workerInput<VcpuWorkerData>();
const control = new Int32Array(data.control);
new BigInt64Array(data.control)[THREAD] = pthreadSelf();

const vcpu = new Vcpu(data.vcpuFd, data.index, data.runSize, data.runAddr);
const mem = GuestMemory.fromHost(data.memAddr, data.memSize, view);
const assistCounts: Record<string, number> = {};
const mirrors = new MirrorReader(data.mirrors);
let readsAnswered = 0;
const ring = new Uint8Array(data.ring);
const ringView = new DataView(data.ring);

function ringDoorbell(): void {
  Atomics.add(control, DOORBELL, 1);
  Atomics.notify(control, DOORBELL);
}

/** Posts this exit's writes to the ring; false when it is a read or the ring is too full. */
function postWrites(reason: number): boolean {
  const run = vcpu.runView;
  let entries: Array<[kind: number, addr: number, data: Uint8Array]>;
  if (reason === exitReasons.IO) {
    if (run.getUint8(runOffsets.ioDirection) !== KVM_EXIT_IO_OUT) return false;
    const size = run.getUint8(runOffsets.ioSize);
    const port = run.getUint16(runOffsets.ioPort, true);
    const count = run.getUint32(runOffsets.ioCount, true);
    const at = Number(run.getBigUint64(runOffsets.ioDataOffset, true));
    entries = [];
    for (let i = 0; i < count; i++) entries.push([POSTED_PIO, port, vcpu.run.subarray(at + i * size, at + (i + 1) * size)]);
  } else {
    if (!run.getUint8(runOffsets.mmioIsWrite)) return false;
    const len = Math.min(8, run.getUint32(runOffsets.mmioLen, true));
    entries = [[POSTED_MMIO, Number(run.getBigUint64(runOffsets.mmioPhysAddr, true)), vcpu.run.subarray(runOffsets.mmioData, runOffsets.mmioData + len)]];
  }
  const head = Atomics.load(control, RING_HEAD);
  if (head + entries.length - Atomics.load(control, RING_TAIL) > RING_ENTRIES) return false;
  // Counted before the main thread can see them: no read is answered here until they are performed.
  mirrors.posted(entries.length);
  entries.forEach(([kind, addr, bytes], i) => {
    const o = ((head + i) % RING_ENTRIES) * RING_ENTRY_BYTES;
    ring[o] = kind;
    ring[o + 1] = bytes.length;
    ringView.setFloat64(o + 8, addr, true);
    ring.set(bytes, o + 16);
  });
  Atomics.store(control, RING_HEAD, head + entries.length);
  ringDoorbell();
  return true;
}

/** Answers this exit's read from a mirrored register (read-mirror.ts); false when the main thread must. */
function answerRead(reason: number): boolean {
  const run = vcpu.runView;
  let answered: boolean;
  if (reason === exitReasons.IO) {
    if (run.getUint8(runOffsets.ioDirection) === KVM_EXIT_IO_OUT || run.getUint32(runOffsets.ioCount, true) !== 1) return false;
    const at = Number(run.getBigUint64(runOffsets.ioDataOffset, true));
    const port = run.getUint16(runOffsets.ioPort, true);
    answered = mirrors.answer(MIRROR_PIO, port, vcpu.run.subarray(at, at + run.getUint8(runOffsets.ioSize)));
  } else {
    if (run.getUint8(runOffsets.mmioIsWrite)) return false;
    const len = run.getUint32(runOffsets.mmioLen, true);
    if (len > 8) return false;
    const addr = Number(run.getBigUint64(runOffsets.mmioPhysAddr, true));
    answered = mirrors.answer(MIRROR_MMIO, addr, vcpu.run.subarray(runOffsets.mmioData, runOffsets.mmioData + len));
  }
  if (answered) readsAnswered++;
  return answered;
}

function end(reason: VcpuEnd["reason"], detail?: string): void {
  const message: VcpuEnd = { type: "ended", reason, detail, assists: assistCounts, readsAnswered };
  parentPort!.postMessage(message);
  Atomics.store(control, STATE, ENDED);
  ringDoorbell();
}

// The assists (and iced-x86, the decoder they use) load at the first
// emulation failure: that takes ~80 ms, which a guest that never needs an
// assist (every guest on a hardware-KVM host) should not pay at start-up.
let performAssist: typeof PerformAssist | undefined;

async function loop(): Promise<void> {
  for (;;) {
    if (Atomics.load(control, STOP)) return end("stopped");
    const rc = vcpu.enter();
    if (rc === -EINTR || rc === -EAGAIN) {
      if (Atomics.exchange(control, SAMPLE, 0)) sample();
      continue;
    }
    if (rc < 0) return end("error", `KVM_RUN on vCPU ${data.index} failed with errno ${-rc}`);
    const reason = vcpu.runView.getUint32(runOffsets.exitReason, true);
    switch (reason) {
      case exitReasons.IO:
      case exitReasons.MMIO:
        if (postWrites(reason) || answerRead(reason)) break;
        Atomics.store(control, STATE, EXITED);
        ringDoorbell();
        Atomics.wait(control, STATE, EXITED);
        break;
      case exitReasons.INTERNAL_ERROR: {
        const suberror = vcpu.runView.getUint32(runOffsets.internalSuberror, true);
        let outcome: ReturnType<typeof PerformAssist> | undefined;
        if (data.assists && suberror === 1) {
          performAssist ??= (await import("./assists/perform.js")).performAssist;
          outcome = performAssist(vcpu, mem);
        }
        if (outcome?.handled) {
          assistCounts[outcome.name] = (assistCounts[outcome.name] ?? 0) + 1;
          break;
        }
        const what = suberror === 1 ? "emulation failure" : `suberror ${suberror}`;
        return end("internal-error", `vCPU ${data.index}: KVM internal error (${what})${outcome ? `: ${outcome.why}` : describeRip()}`);
      }
      case exitReasons.SHUTDOWN:
        return end("shutdown", `vCPU ${data.index}: triple fault (KVM_EXIT_SHUTDOWN)${describeShutdownPlace()}`);
      case exitReasons.SYSTEM_EVENT: {
        const type = vcpu.runView.getUint32(runOffsets.systemEventType, true);
        if (type === systemEvents.SHUTDOWN) return end("power-off");
        if (type === systemEvents.RESET) return end("reset");
        return end("crash", `vCPU ${data.index}: system event ${type}`);
      }
      case exitReasons.INTR:
      case exitReasons.IRQ_WINDOW_OPEN:
        break;
      case exitReasons.HLT:
        return end("power-off", `vCPU ${data.index} halted`);
      case exitReasons.FAIL_ENTRY: {
        const why = vcpu.runView.getBigUint64(runOffsets.failEntryReason, true);
        return end("error", `vCPU ${data.index}: VM entry failed (hardware reason 0x${why.toString(16)})`);
      }
      default:
        return end("error", `vCPU ${data.index}: unexpected exit ${exitReasonName(reason)}${describeRip()}`);
    }
  }
}

/** Pins this thread (and only it) to its host CPU; false (after ending) when that fails. */
function pin(cpu: number): boolean {
  try {
    setAffinity([cpu]);
    const cpus = getAffinity();
    if (cpus.length !== 1 || cpus[0] !== cpu) throw new Error(`the kernel left it on CPU ${cpus.join(",")}`);
    const message: VcpuPinned = { type: "pinned", tid: threadId(), cpus };
    parentPort!.postMessage(message);
    return true;
  } catch (err) {
    end("error", `vCPU ${data.index}: pinning its thread to CPU ${cpu}: ${err instanceof Error ? err.message : String(err)}`);
    return false;
  }
}

function sample(): void {
  const regs = vcpu.getRegs();
  const message: VcpuSample = { type: "sample", rip: regs.rip.toString(16), cpl: vcpu.getSregs().cs.dpl };
  parentPort!.postMessage(message);
}

/**
 * Where the guest triple-faulted, when KVM still knows: on AMD it resets the
 * vCPU before reporting the shutdown (the VMCB is undefined after one), so
 * the registers then hold the reset vector, which would mislead.
 */
function describeShutdownPlace(): string {
  try {
    const cs = vcpu.getSregs().cs;
    if (vcpu.getRegs().rip === 0xfff0n && cs.selector === 0xf000 && cs.base === 0xffff0000n) return "; where is unknown: KVM reset the vCPU's registers on this exit (as it does on AMD)";
  } catch {
    return "";
  }
  return describeRip();
}

function describeRip(): string {
  try {
    return ` at rip 0x${vcpu.getRegs().rip.toString(16)}`;
  } catch {
    return "";
  }
}

try {
  if (data.hostCpu === undefined || pin(data.hostCpu)) await loop();
} catch (err) {
  end("error", `vCPU ${data.index}: ${err instanceof Error ? err.message : String(err)}`);
}

