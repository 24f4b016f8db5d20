// The scripts of the VMM's worker threads, beside this module once built.
/** One per vCPU: runs KVM_RUN (vcpu-worker.ts). */
export const VCPU_WORKER_SCRIPT = new URL("./vcpu-worker.js", import.meta.url);
/** Waits on the ioeventfds of the virtio doorbells (notify-poller.ts). */
export const NOTIFY_POLLER_SCRIPT = new URL("./notify-poller.js", import.meta.url);
