// Doorbell writes (virtio-mmio QueueNotify) caught by KVM instead of exiting
// to us: one ioeventfd per device and queue (KVM_IOEVENTFD, 4-byte writes,
// datamatch = queue index), a poller thread blocked in poll() on them, and a
// loop on the main thread that rings the device for each one that fired.
// When KVM has no ioeventfds, or refuses one, that doorbell's writes keep
// exiting and arrive as posted MMIO writes like any other register.
import type { Worker } from "node:worker_threads";
import { NOTIFY_POLLER_SCRIPT } from "./thread-scripts.js";
import { prestartWorker, startWorker } from "./worker-spares.js";
import type { Vm } from "./kvm/kvm.js";
import { close, eventfd, writeFd } from "./kvm/libc.js";
import type { MmioDevice } from "./devices/device.js";
import { NOTIFY_BELL, NOTIFY_PENDING, notifyControlBytes, notifyCountSlot, NotifyPollerData } from "./notify-channel.js";

// Atomics.waitAsync is in Node 20 but not in the ES2022 library types.
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

interface Doorbell {
  fd: number;
  ring: () => void;
}

export class NotifyEvents {
  private readonly doorbells: Doorbell[] = [];
  private unavailable: string | undefined;
  private worker: Worker | undefined;
  private control: Int32Array | undefined;
  private stopFd = -1;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  private serving: Promise<void> = Promise.resolve();

  /** `enabled` false: always use exits (for comparisons and tests). */
  constructor(private readonly vm: Vm, enabled = true) {
    if (!enabled) this.unavailable = "ioeventfds turned off";
    else if (!vm.hasIoeventfd) this.unavailable = "KVM has no KVM_CAP_IOEVENTFD";
  }

  /** Which path doorbell writes take, for the boot log. */
  describe(): string {
    if (this.doorbells.length > 0) {
      return `queue notifications: ioeventfd (${this.doorbells.length} doorbells)${this.unavailable ? `; others by MMIO exit (${this.unavailable})` : ""}`;
    }
    return `queue notifications: MMIO exits, posted (${this.unavailable ?? "no device has a doorbell"})`;
  }

  /** Number of doorbells KVM catches (0: every notification exits). */
  get count(): number {
    return this.doorbells.length;
  }

  /** Guest doorbell writes KVM caught so far (each would have been an exit), over every doorbell. */
  get writesCaught(): number {
    const control = this.control;
    if (!control) return 0;
    let n = 0;
    for (let i = 0; i < this.doorbells.length; i++) n += Atomics.load(control, notifyCountSlot(this.doorbells.length, i)) >>> 0;
    return n;
  }

  /** True while the poller thread runs (between start() and the end of stop()). */
  get polling(): boolean {
    return this.worker !== undefined;
  }

  /** Hangs an ioeventfd on each value of `device`'s doorbell register at `base + offset`. */
  watch(base: number, device: MmioDevice): void {
    const register = device.notifyRegister;
    if (!register || this.unavailable) return;
    for (let value = 0; value < register.values; value++) {
      let fd: number;
      try {
        fd = this.vm.ioeventfd(base + register.offset, 4, BigInt(value));
      } catch (err) {
        // Those already registered keep working; the rest exit as before.
        this.unavailable = `${device.name}: ${(err as Error).message}`;
        return;
      }
      this.doorbells.push({ fd, ring: () => register.ring(value) });
    }
    // The poller will be needed: its thread starts now and parks, so that
    // start() does not wait for it.
    if (this.doorbells.length > 0) prestartWorker(NOTIFY_POLLER_SCRIPT);
  }

  /**
   * Starts the poller thread and a main-thread loop that, for each doorbell
   * that fired, calls `beforeRing` once and then rings it.
   *
   * Ordering: a doorbell must not overtake the register writes the guest made
   * before it (QueueReady, Status = DRIVER_OK: a notify seen before DRIVER_OK
   * is dropped, and the driver would wait forever). Those writes exited and
   * were posted to their vCPU's ring *before* that vCPU re-entered the guest
   * and wrote the doorbell, and KVM signals the eventfd only then; the poller
   * reads the eventfd and only then marks the doorbell here. So every write
   * the doorbell depends on is already in some vCPU's ring when we see the
   * mark: `beforeRing` must drain every vCPU's ring. Later writes (a reset)
   * may be performed first; the device then ignores the stale doorbell, as
   * the driver that reset it expects.
   */
  start(beforeRing: () => void, fail: (message: string) => void): void {
    if (this.doorbells.length === 0 || this.worker) return;
    this.stopping = false;
    this.stopFd = eventfd();
    const shared = new SharedArrayBuffer(notifyControlBytes(this.doorbells.length));
    const control = new Int32Array(shared);
    this.control = control;
    const data: NotifyPollerData = { fds: this.doorbells.map((d) => d.fd), stopFd: this.stopFd, control: shared };
    const worker = startWorker(NOTIFY_POLLER_SCRIPT, data);
    this.worker = worker;
    worker.on("message", (m: { error?: string }) => {
      if (m.error) fail(`ioeventfd poller: ${m.error}`);
    });
    worker.on("error", (err) => fail(`ioeventfd poller thread: ${err.message}`));
    this.exited = new Promise((resolve) => worker.on("exit", () => {
      if (!this.stopping) fail("ioeventfd poller thread ended early");
      this.stopping = true;
      Atomics.add(control, NOTIFY_BELL, 1);
      Atomics.notify(control, NOTIFY_BELL);
      resolve();
    }));
    this.serving = this.serve(control, beforeRing, fail);
  }

  private async serve(control: Int32Array, beforeRing: () => void, fail: (message: string) => void): Promise<void> {
    while (!this.stopping) {
      // Read the bell first: a mark made after this wakes the wait below at once.
      const bell = Atomics.load(control, NOTIFY_BELL);
      let drained = false;
      for (let i = 0; i < this.doorbells.length; i++) {
        if (!Atomics.exchange(control, NOTIFY_PENDING + i, 0)) continue;
        try {
          if (!drained) beforeRing();
          drained = true;
          this.doorbells[i].ring();
        } catch (err) {
          fail(`servicing a queue notification: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      const waited = waitAsync(control, NOTIFY_BELL, bell);
      if (waited.async) await waited.value;
    }
  }

  /** Stops the poller thread and the loop (the vCPUs have ended); the eventfds stay registered until the VM closes. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || !this.control) return;
    this.stopping = true;
    const one = new Uint8Array(8);
    one[0] = 1;
    writeFd(this.stopFd, one);
    Atomics.add(this.control, NOTIFY_BELL, 1);
    Atomics.notify(this.control, NOTIFY_BELL);
    await this.exited;
    await this.serving;
    close(this.stopFd);
    this.stopFd = -1;
    this.worker = undefined;
  }
}
