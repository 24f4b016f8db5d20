// Reads the vCPU threads answer themselves (stages/boot/read-mirror.ts), on a
// real VM: the value is the device's, the main thread is not asked, and no
// read overtakes a write made before it, on the same vCPU or another one.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RESET, runGuest } from "./guest.js";
import type { MirroredRegister, MmioDevice } from "../../../stages/boot/devices/device.js";

const REGISTER = 0x20;
const MISMATCH = 0x30;
const u32 = (data: Uint8Array) => new DataView(data.buffer, data.byteOffset, data.byteLength);
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

/** An MMIO device with one register: written values read back; it publishes the register, so its reads may never reach it. */
function echoRegister() {
  const state = { value: 0, reads: 0, mismatch: null as number | null, mirror: undefined as MirroredRegister | undefined };
  const device: MmioDevice = {
    name: "published-echo-register",
    publishReads(publish) {
      state.mirror = publish(REGISTER, 4);
    },
    mmioRead(_offset, data) {
      state.reads++;
      u32(data).setUint32(0, state.value, true);
    },
    mmioWrite(offset, data) {
      const value = u32(data).getUint32(0, true);
      if (offset !== REGISTER) {
        state.mismatch = value;
        return;
      }
      state.value = value;
      state.mirror?.set(value);
    },
  };
  return { device, state };
}

/** Machine code with labels: parts are bytes, a label name, or a rel8 jump [opcode, label]. */
function assemble(parts: (number[] | string | [number, string])[]): number[] {
  const labels = new Map<string, number>();
  let at = 0;
  for (const p of parts) {
    if (typeof p === "string") labels.set(p, at);
    else at += Array.isArray(p) && p.length === 2 && typeof p[1] === "string" ? 2 : (p as number[]).length;
  }
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "string") continue;
    if (p.length === 2 && typeof p[1] === "string") {
      const rel = labels.get(p[1])! - (out.length + 2);
      if (rel < -128 || rel > 127) throw new Error(`jump to ${p[1]} is too far`);
      out.push(p[0] as number, rel & 0xff);
    } else out.push(...(p as number[]));
  }
  return out;
}

const MOV_RBX_DEVICE = [0x48, 0xbb, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x00, 0x00, 0x00]; // mov rbx, 0xd0000000 (the first MMIO slot)
const JNE = 0x75, JE = 0x74, JNZ = 0x75, JMP = 0xeb;

/**
 * Runs `check` for ecx = n down to 1; `check` leaves the value read in eax
 * and the flags of its comparison: on a mismatch the guest reports eax at
 * MISMATCH and resets, else it resets after the last round.
 */
function checkedLoop(n: number, check: number[][]): number[] {
  return assemble([
    MOV_RBX_DEVICE,
    [0xb9, ...le32(n)], // mov ecx, n
    "loop",
    ...check,
    [JNE, "fail"],
    [0xff, 0xc9], // dec ecx
    [JNZ, "loop"],
    RESET,
    "fail",
    [0x89, 0x43, MISMATCH], // mov [rbx+0x30], eax
    RESET,
  ]);
}

/** Reads the register `n` times, comparing each read with `expected`. */
function readLoop(n: number, expected: number): number[] {
  return checkedLoop(n, [
    [0x8b, 0x43, REGISTER], // mov eax, [rbx+0x20]
    [0x3d, ...le32(expected)], // cmp eax, expected
  ]);
}

/** Runs readLoop(n) against a register holding VALUE; the device's state and the machine's exit. */
async function readPublished(n: number, mirroredReads?: boolean) {
  const VALUE = 0xc0ffee;
  const { device, state } = echoRegister();
  const run = await runGuest({
    mode: "long",
    mirroredReads,
    code: readLoop(n, VALUE),
    setup: (m) => {
      m.addMmioDevice(() => device);
      state.value = VALUE;
      state.mirror!.set(VALUE);
    },
  });
  assert.is(run.exit.exitReason, "reset");
  assert.is(state.mismatch, null, `a read returned 0x${state.mismatch?.toString(16)}`);
  return { state, exit: run.exit };
}

test("reads of a published register are answered on the vCPU thread, with the value the device set", async () => {
  const { state, exit } = await readPublished(5000);
  assert.is(exit.readsAnswered, 5000);
  assert.is(state.reads, 0, "the device itself was never asked");
});

test("with mirrored reads off, every read goes to the device", async () => {
  const { state, exit } = await readPublished(200, false);
  assert.is(exit.readsAnswered, 0);
  assert.is(state.reads, 200);
});

test("a read of a published register after a posted write sees that write, every time", async () => {
  const { device, state } = echoRegister();
  const n = 20000;
  const code = checkedLoop(n, [
    [0x89, 0x4b, REGISTER], // mov [rbx+0x20], ecx   (posted)
    [0x8b, 0x43, REGISTER], // mov eax, [rbx+0x20]   (must see ecx)
    [0x39, 0xc8], // cmp eax, ecx
  ]);
  // 40,000 exits: seconds here, longer on a KVM host under a software CPU. The test is about order, not speed.
  const run = await runGuest({ mode: "long", code, timeoutMs: 180_000, setup: (m) => m.addMmioDevice(() => device) });
  assert.is(run.exit.exitReason, "reset");
  assert.is(state.mismatch, null, `a read returned ${state.mismatch} instead of the value written just before it`);
  assert.is(state.value, 1, "the guest ran every iteration");
});

test("a read on one vCPU sees a write another vCPU posted before telling it through memory", async () => {
  // vCPU 0 writes n, n-1, ..., 1 to the register, each time then storing the
  // value at 0x3000 and waiting for vCPU 1 to echo it at 0x3004. vCPU 1 reads
  // the register as soon as it sees a new value at 0x3000: the write may
  // still sit in vCPU 0's ring, and the read must not be answered from the
  // mirror before it is performed.
  const { device, state } = echoRegister();
  const n = 2000;
  const code = assemble([
    MOV_RBX_DEVICE,
    [0x85, 0xf6], // test esi, esi (the vCPU's index)
    [JNZ, "reader"],
    [0xb9, ...le32(n)], // mov ecx, n
    "write",
    [0x89, 0x4b, REGISTER], // mov [rbx+0x20], ecx   (posted)
    [0x89, 0x0c, 0x25, ...le32(0x3000)], // mov [0x3000], ecx
    "echoed",
    [0xf3, 0x90], // pause
    [0x39, 0x0c, 0x25, ...le32(0x3004)], // cmp [0x3004], ecx
    [JNE, "echoed"],
    [0xff, 0xc9], // dec ecx
    [JNZ, "write"],
    RESET,
    "reader",
    [0x31, 0xd2], // xor edx, edx (the last value seen)
    "wait",
    [0xf3, 0x90], // pause
    [0x8b, 0x0c, 0x25, ...le32(0x3000)], // mov ecx, [0x3000]
    [0x39, 0xd1], // cmp ecx, edx
    [JE, "wait"],
    [0x8b, 0x43, REGISTER], // mov eax, [rbx+0x20]
    [0x39, 0xc8], // cmp eax, ecx
    [JNE, "fail"],
    [0x89, 0x0c, 0x25, ...le32(0x3004)], // mov [0x3004], ecx
    [0x89, 0xca], // mov edx, ecx
    [JMP, "wait"],
    "fail",
    [0x89, 0x43, MISMATCH], // mov [rbx+0x30], eax
    RESET,
  ]);
  const run = await runGuest({
    mode: "long",
    vcpus: 2,
    code,
    timeoutMs: 180_000,
    regs: (i) => ({ rsi: BigInt(i) }),
    setup: (m) => m.addMmioDevice(() => device),
  });
  assert.is(run.exit.exitReason, "reset");
  assert.is(state.mismatch, null, `vCPU 1 read ${state.mismatch} instead of the value vCPU 0 had written`);
  assert.is(state.value, 1, "every value was written and echoed");
});

test.run();
