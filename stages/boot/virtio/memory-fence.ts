// A full memory barrier between the device (this thread) and the driver
// (a vCPU running concurrently on another core).
//
// The virtqueue protocol needs store→load ordering in two places (publish the
// used index, then read the driver's interrupt-suppression fields; publish
// avail_event, then re-read the available index). x86 keeps every other
// ordering by itself, but a store may pass a later load. JavaScript has no
// fence for ordinary memory; a sequentially consistent atomic read-modify-write
// compiles to a locked instruction on x86-64, which orders *all* memory
// accesses around it, so one on a private cell serves as the fence. V8 also
// never moves plain typed-array accesses across an Atomics operation.

const fenceCell = new Int32Array(new SharedArrayBuffer(4));

export function memoryFence(): void {
  Atomics.add(fenceCell, 0, 0);
}
