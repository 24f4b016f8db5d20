// Virtio queue notifications caught by ioeventfds (no exit to the VMM) on a
// real VM: they reach the device, never before the register writes the guest
// made before them, the fallback path still works, and nothing is left open.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readlinkSync } from "node:fs";
import { RESET, runGuest } from "./guest.js";
import { MmioDevice } from "../../../stages/boot/devices/device.js";
import { Machine } from "../../../stages/boot/machine.js";

const BASE = 0xd0000000;
const DOORBELL = 0x50;
const ACK = 0x3000;
const BUSY_MS = 2;

/**
 * A device with a plain register at 0x20 and a doorbell at 0x50 (values 0
 * and 1). Ringing it copies the register into guest memory at ACK, so the
 * guest can wait for the doorbell and see which register value it saw.
 */
function ackingDevice(machine: Machine) {
  const state = { register: 0, rings: [0, 0], exitedDoorbellWrites: [] as number[] };
  const device: MmioDevice = {
    name: "acking-doorbell",
    mmioRead: (_o, data) => data.fill(0),
    mmioWrite: (offset, data) => {
      const value = new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true);
      if (offset === 0x20) state.register = value;
      if (offset === DOORBELL) {
        state.exitedDoorbellWrites.push(value);
        if (value < 2) device.notifyRegister!.ring(value);
      }
    },
    notifyRegister: {
      offset: DOORBELL,
      values: 2,
      ring: (value) => {
        state.rings[value]++;
        machine.mem.dataView(ACK, 4).setUint32(0, state.register, true);
        // Stay busy while the guest, released, makes its next register
        // write and doorbell: both are then waiting when this returns, and
        // the doorbell comes first unless the VMM performs the posted writes
        // before it (without that, this test times out).
        const until = performance.now() + BUSY_MS;
        while (performance.now() < until);
      },
    },
  };
  return { device, state };
}

/**
 * For i = 1..n: write i to the register (an exit, posted), ring doorbell 0,
 * and spin until the device acknowledges with i. A doorbell serviced before
 * the register write it follows acknowledges i-1, and the guest spins until
 * the deadline. Then one doorbell write of 7 (no ioeventfd has that value).
 */
function ackLoop(n: number): number[] {
  return [
    0x48, 0xbb, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x00, 0x00, 0x00, // mov rbx, BASE
    0xb9, 0x01, 0x00, 0x00, 0x00, // mov ecx, 1
    0x89, 0x4b, 0x20, // loop: mov [rbx+0x20], ecx
    0xc7, 0x43, DOORBELL, 0x00, 0x00, 0x00, 0x00, // mov dword [rbx+0x50], 0
    0xf3, 0x90, // spin: pause
    0x39, 0x0c, 0x25, ...le32(ACK), // cmp [ACK], ecx
    0x75, 0xf5, // jne spin
    0xff, 0xc1, // inc ecx
    0x81, 0xf9, ...le32(n + 1), // cmp ecx, n+1
    0x75, 0xe1, // jne loop
    0xc7, 0x43, DOORBELL, 0x07, 0x00, 0x00, 0x00, // mov dword [rbx+0x50], 7
    ...RESET,
  ];
}

function le32(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

function eventfdCount(): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === "anon_inode:[eventfd]") n++;
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return n;
}

const N = 300;

test("doorbell writes reach the device through an ioeventfd, without an exit, never before the writes they follow", async () => {
  let state: ReturnType<typeof ackingDevice>["state"] | undefined;
  let doorbellExits = -1;
  let caught = -1;
  let path = "";
  const run = await runGuest({
    mode: "long", code: ackLoop(N), timeoutMs: 30_000,
    setup: (m) => {
      const acking = ackingDevice(m);
      state = acking.state;
      m.addMmioDevice(() => acking.device);
      path = m.notifyEvents.describe();
    },
    after: (m) => {
      doorbellExits = m.exitCounts.get(`mmio:0x${(BASE + DOORBELL).toString(16)}`) ?? 0;
      caught = m.notifyEvents.writesCaught;
    },
  });
  assert.is(run.exit.exitReason, "reset", `${run.exit.exitReason}: ${run.exit.detail ?? ""} (a doorbell overtook a write?)`);
  assert.match(path, /^queue notifications: ioeventfd \(2 doorbells\)/);
  assert.equal(state!.rings, [N, 0]);
  // Only the write of 7 exited: every doorbell write of 0 stayed in KVM.
  assert.is(doorbellExits, 1);
  assert.is(caught, N, "KVM counted every doorbell write of 0");
  assert.equal(state!.exitedDoorbellWrites, [7]);
});

test("with ioeventfds off, doorbell writes exit and are posted like any other write", async () => {
  let state: ReturnType<typeof ackingDevice>["state"] | undefined;
  let path = "";
  const run = await runGuest({
    mode: "long", code: ackLoop(N), timeoutMs: 30_000, ioeventfd: false,
    setup: (m) => {
      const acking = ackingDevice(m);
      state = acking.state;
      m.addMmioDevice(() => acking.device);
      path = m.notifyEvents.describe();
    },
  });
  assert.is(run.exit.exitReason, "reset", `${run.exit.exitReason}: ${run.exit.detail ?? ""}`);
  assert.match(path, /^queue notifications: MMIO exits, posted \(ioeventfds turned off\)/);
  assert.equal(state!.rings, [N, 0]);
  assert.is(state!.exitedDoorbellWrites.length, N + 1);
});

test("a doorbell KVM refuses (here: one already registered) keeps the exit path, and the log says why", async () => {
  let state: ReturnType<typeof ackingDevice>["state"] | undefined;
  let path = "";
  const run = await runGuest({
    mode: "long", code: ackLoop(20), timeoutMs: 30_000,
    setup: (m) => {
      const acking = ackingDevice(m);
      state = acking.state;
      m.addMmioDevice(() => acking.device);
      m.notifyEvents.watch(BASE, acking.device); // the same address and values again: EEXIST
      path = m.notifyEvents.describe();
    },
  });
  assert.is(run.exit.exitReason, "reset", `${run.exit.exitReason}: ${run.exit.detail ?? ""}`);
  assert.match(path, /^queue notifications: ioeventfd \(2 doorbells\); others by MMIO exit \(acking-doorbell: KVM_IOEVENTFD failed: File exists/);
  assert.equal(state!.rings, [20, 0]);
});

test("every eventfd is closed and the poller thread gone when the machine is closed", async () => {
  const before = eventfdCount();
  let during = 0;
  let polling = true;
  const run = await runGuest({
    mode: "long", code: ackLoop(5), timeoutMs: 30_000,
    setup: (m) => m.addMmioDevice(() => ackingDevice(m).device),
    after: (m) => {
      during = eventfdCount();
      polling = m.notifyEvents.polling;
    },
  });
  assert.is(run.exit.exitReason, "reset");
  assert.is(polling, false, "the poller thread still runs after run()");
  // Two doorbells and the device's irqfd were open while the machine was.
  assert.ok(during >= before + 3, `${during} eventfds during the run, ${before} before`);
  assert.is(eventfdCount(), before);
});

test.run();
