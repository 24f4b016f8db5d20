// Which host CPUs a thread may run on: sched_getaffinity / sched_setaffinity
// through koffi (lib/native/libc.ts). Both act on one
// thread (tid 0: the calling one), not on the whole process: Linux keeps an
// affinity per thread, and a new thread inherits its creator's.
import { readdirSync } from "node:fs";
import { lastErrno, libc as loadLibc, SyscallError } from "../native/libc.js";
import { MAX_CPU } from "./cpu-list.js";

const libc = loadLibc();
const c = {
  getAffinity: libc.func("int sched_getaffinity(int pid, size_t size, _Out_ uint8_t *mask)"),
  setAffinity: libc.func("int sched_setaffinity(int pid, size_t size, const uint8_t *mask)"),
  gettid: libc.func("int gettid(void)"),
};

/** Room for every CPU number Linux allows (one bit each). */
const MASK_BYTES = (MAX_CPU + 1) / 8;

function failure(call: string): Error {
  return new SyscallError(call, lastErrno());
}

/** The CPUs thread `tid` may run on (0: the calling thread), ascending. */
export function getAffinity(tid = 0): number[] {
  const mask = new Uint8Array(MASK_BYTES);
  if (c.getAffinity(tid, MASK_BYTES, mask) < 0) throw failure(`sched_getaffinity(${tid})`);
  const cpus: number[] = [];
  for (let byte = 0; byte < MASK_BYTES; byte++) {
    if (mask[byte] === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (mask[byte] & (1 << bit)) cpus.push(byte * 8 + bit);
  }
  return cpus;
}

/** Restricts thread `tid` (0: the calling thread) to `cpus`. */
export function setAffinity(cpus: readonly number[], tid = 0): void {
  const mask = new Uint8Array(MASK_BYTES);
  for (const cpu of cpus) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu > MAX_CPU) throw new Error(`sched_setaffinity: CPU ${cpu} is out of range`);
    mask[cpu >> 3] |= 1 << (cpu & 7);
  }
  if (c.setAffinity(tid, MASK_BYTES, mask) < 0) throw failure(`sched_setaffinity(${tid}, ${cpus.join(",")})`);
}

/** The calling thread's kernel thread id (what /proc/self/task/<tid> names). */
export function threadId(): number {
  return c.gettid();
}

/** Every thread of this process now (threads may come and go meanwhile). */
export function processThreadIds(): number[] {
  return readdirSync("/proc/self/task").map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** Machines in this process currently holding its threads off their vCPUs' CPUs, and how to undo it. */
let holders = 0;
let undo: (() => void) | undefined;
/** The calling thread's CPUs before the move (what the process may use). */
let heldFrom: number[] | undefined;

/**
 * The CPUs this process may use: the calling thread's affinity, or what it
 * was before keepProcessOn() narrowed it while a machine runs.
 */
export function processAffinity(): number[] {
  return holders > 0 && heldFrom ? [...heldFrom] : getAffinity();
}

/**
 * Moves every thread of this process onto `cpus` and returns how to put each
 * back. The calling thread goes first, so threads it starts from now on
 * (vCPU workers, libuv's pool) inherit `cpus` until they narrow themselves.
 * Several machines in one process share it: the first one's move stands
 * until the last one is done (their vCPU threads, pinned each to its own
 * CPU, are left alone).
 */
export function keepProcessOn(cpus: readonly number[]): () => void {
  if (holders === 0) {
    heldFrom = getAffinity();
    undo = moveAllThreads(cpus);
  }
  holders++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) undo?.();
  };
}

function moveAllThreads(cpus: readonly number[]): () => void {
  const before = new Map<number, number[]>();
  const move = (tid: number) => {
    try {
      before.set(tid, getAffinity(tid));
      setAffinity(cpus, tid);
    } catch (err) {
      // A thread that ended between the listing and the call is no matter.
      if (tid === 0) throw err;
    }
  };
  move(0);
  const self = threadId();
  for (const tid of processThreadIds()) if (tid !== self) move(tid);
  return () => {
    for (const [tid, cpus] of before) {
      try {
        setAffinity(cpus, tid);
      } catch {
        // ended meanwhile
      }
    }
  };
}
