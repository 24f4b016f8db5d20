// How a vCPU worker and the main thread share one vCPU. The worker runs
// KVM_RUN. A port or MMIO *write* needs no answer: the worker posts it to a
// ring the main thread drains in order, and goes straight back into the
// guest. A *read* needs one: the worker hands kvm_run to the main thread
// (which owns the devices), and sleeps until it is handed back. Either way it
// rings the doorbell the main thread waits on.

/** Int32 slots in the shared control block. */
export const STATE = 0;
export const STOP = 1;
/** Set by the main thread (with a kick) to ask the worker where the vCPU is. */
export const SAMPLE = 2;
/** Bumped by the worker whenever it posts a write or hands over an exit. */
export const DOORBELL = 3;
/** Posted-write ring indices (entries, ever increasing): the worker advances HEAD, the main thread TAIL. */
export const RING_HEAD = 4;
export const RING_TAIL = 5;
/** BigInt64 slot (index in a BigInt64Array view, bytes 24..31: clear of the Int32 slots) holding the worker's pthread_t. */
export const THREAD = 3;
export const CONTROL_BYTES = 32;

/** Posted writes: kind u8 (1 port, 2 MMIO), length u8, address u64 at 8, data at 16. */
export const RING_ENTRIES = 1024;
export const RING_ENTRY_BYTES = 24;
export const POSTED_PIO = 1;
export const POSTED_MMIO = 2;

export const RUNNING = 0; // the worker owns kvm_run
export const EXITED = 1; // the main thread owns kvm_run and must service the exit
export const ENDED = 2; // the worker has stopped for good

import type { MirrorTable } from "./read-mirror.js";

/** Data the main thread gives a vCPU worker. */
export interface VcpuWorkerData {
  index: number;
  vcpuFd: number;
  runAddr: bigint;
  runSize: number;
  memAddr: bigint;
  memSize: number;
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  assists: boolean;
  /** Registers whose reads the worker answers itself (read-mirror.ts). */
  mirrors: MirrorTable;
  /** The host CPU this vCPU's thread pins itself to (absent: no pinning). */
  hostCpu?: number;
}

/** Why a vCPU stopped, as the worker reports it in its last message. */
export interface VcpuEnd {
  type: "ended";
  reason: "stopped" | "shutdown" | "power-off" | "reset" | "crash" | "internal-error" | "error";
  detail?: string;
  assists: Record<string, number>;
  /** Reads answered from mirrored registers, without the main thread. */
  readsAnswered: number;
}

/** Sent once a worker has pinned its thread: its thread id and the CPUs it may now run on. */
export interface VcpuPinned {
  type: "pinned";
  tid: number;
  cpus: number[];
}

/** Answer to a SAMPLE request: where the vCPU was (for diagnosing a guest that makes no progress). */
export interface VcpuSample {
  type: "sample";
  rip: string;
  cpl: number;
}
