// How a vCPU worker and the main thread share one vCPU. The worker runs
// KVM_RUN; on a port I/O or MMIO exit it hands kvm_run to the main thread
// (which owns the devices) and sleeps until the main thread hands it back.

/** Int32 slots in the shared control block. */
export const STATE = 0;
export const STOP = 1;
/** Set by the main thread (with a kick) to ask the worker where the vCPU is. */
export const SAMPLE = 2;
/** BigInt64 slot (index in a BigInt64Array view, bytes 16..23: clear of the Int32 slots) holding the worker's pthread_t. */
export const THREAD = 2;
export const CONTROL_BYTES = 24;

export const RUNNING = 0; // the worker owns kvm_run
export const EXITED = 1; // the main thread owns kvm_run and must service the exit
export const ENDED = 2; // the worker has stopped for good

/** Data the main thread gives a vCPU worker. */
export interface VcpuWorkerData {
  index: number;
  vcpuFd: number;
  runAddr: bigint;
  runSize: number;
  memAddr: bigint;
  memSize: number;
  control: SharedArrayBuffer;
  assists: boolean;
}

/** Why a vCPU stopped, as the worker reports it in its last message. */
export interface VcpuEnd {
  type: "ended";
  reason: "stopped" | "shutdown" | "power-off" | "reset" | "crash" | "internal-error" | "error";
  detail?: string;
  assists: Record<string, number>;
}

/** Answer to a SAMPLE request: where the vCPU was (for diagnosing a guest that makes no progress). */
export interface VcpuSample {
  type: "sample";
  rip: string;
  cpl: number;
}
