// Each instruction assist (stages/boot/assists/index.ts) in a small 64-bit
// guest at CPL0. On a nested PVM host these instructions stop with an
// emulation failure and the VMM performs them: the test checks the result and
// that the assist ran. On hardware KVM the CPU runs them and only the result
// is checked.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { LONG_CODE, REPORT_PORT, RESET, runGuest } from "./guest.js";
import type { Machine } from "../../../stages/boot/machine.js";
import { ASSISTS } from "../../../stages/boot/assists/index.js";
import { fx } from "../../../stages/boot/kvm/fx-image.js";
import { integerToExtended } from "../../../stages/boot/assists/x87.js";

const pvmHost = existsSync("/sys/module/kvm_pvm");
const REPORT_EAX = [0x66, 0xba, REPORT_PORT & 0xff, REPORT_PORT >> 8, 0xef]; // mov dx, 0x500; out dx, eax
const DATA = 0x4000;
const FXAREA = 0x5000;

function assisted(assists: Record<string, number>, ...names: string[]): void {
  if (!pvmHost) return;
  for (const name of names) assert.ok((assists[name] ?? 0) > 0, `assist ${name} was not used: ${JSON.stringify(assists)}`);
}

/** Puts `code` at `at` and points vector `vector` of an IDT at 0x3000 (16 gates) at it. */
function installHandler(m: Machine, vector: number, at: number, code: number[]): void {
  m.mem.write(at, Uint8Array.from(code));
  const idt = m.mem.dataView(0x3000, 16 * 16);
  const gate = BigInt(at & 0xffff) | (0x10n << 16n) | (0x8en << 40n) | (BigInt((at >>> 16) & 0xffff) << 48n);
  idt.setBigUint64(vector * 16, gate, true);
  idt.setBigUint64(vector * 16 + 8, 0n, true);
  const vcpu = m.vcpu(0);
  vcpu.setSregs({ ...vcpu.getSregs(), idt: { base: 0x3000n, limit: 16 * 16 - 1 } });
}

test("clac/stac", async () => {
  const code = [
    0x0f, 0x01, 0xcb, // stac
    0x9c, 0x58, // pushfq; pop rax
    ...REPORT_EAX,
    0x0f, 0x01, 0xca, // clac
    0x9c, 0x58,
    ...REPORT_EAX,
    ...RESET,
  ];
  const run = await runGuest({ mode: "long", code });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  const [afterStac, afterClac] = run.recorder.values;
  assert.ok(afterStac & (1 << 18), "AC set by stac");
  assert.not.ok(afterClac & (1 << 18), "AC cleared by clac");
  assisted(run.exit.assists, "clac", "stac");
});

test("int3", async () => {
  // IDT at 0x3000 with vector 3 -> handler at LONG_CODE + 0x100, which reports 0xb9 and returns.
  const handler = LONG_CODE + 0x100;
  const code = [
    0xcc, // int3
    0xb8, 0x0d, 0x60, 0x00, 0x00, // mov eax, 0x600d
    ...REPORT_EAX,
    ...RESET,
  ];
  const handlerCode = [0xb8, 0xb9, 0x00, 0x00, 0x00, ...REPORT_EAX, 0x48, 0xcf]; // mov eax, 0xb9; out; iretq
  const run = await runGuest({
    mode: "long", code,
    setup: (m) => installHandler(m, 3, handler, handlerCode),
  });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  assert.equal(run.recorder.values, [0xb9, 0x600d], "the #BP handler ran once, then execution went on after int3");
  assisted(run.exit.assists, "int3");
});

test("x87 control", async () => {
  // The host leaves an unmasked invalid-operation exception pending (IE, so
  // ES and B); the guest reads it, clears it, waits (no #MF any more), loads
  // and stores the control word, and checks emms through fxsave.
  const code = [
    0xdd, 0x7f, 0x06, // fnstsw [rdi+6]
    0xdb, 0xe2, // fnclex
    0x9b, // fwait (nothing pending any more: no #MF)
    0xdd, 0x7f, 0x0c, // fnstsw [rdi+12]
    0xd9, 0x2f, // fldcw [rdi]
    0xd9, 0x7f, 0x02, // fnstcw [rdi+2]
    0x0f, 0x77, // emms
    0x48, 0x0f, 0xae, 0x06, // fxsave64 [rsi]
    ...RESET,
  ];
  let data = new Uint8Array();
  let fxOut = new Uint8Array();
  const run = await runGuest({
    mode: "long", code,
    regs: () => ({ rdi: BigInt(DATA), rsi: BigInt(FXAREA) }),
    setup: (m) => {
      m.mem.dataView(DATA, 2).setUint16(0, 0x027f, true);
      const img = m.vcpu(0).getFxImage();
      const f = new DataView(img.buffer);
      f.setUint16(fx.fcw, 0x037e, true); // IE unmasked
      f.setUint16(fx.fsw, 0x8081, true);
      f.setUint8(fx.ftw, 0x80);
      m.vcpu(0).setFxImage(img);
    },
    after: (m) => {
      data = m.mem.read(DATA, 16).slice();
      fxOut = m.mem.read(FXAREA, 512).slice();
    },
  });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  const d = new DataView(data.buffer);
  assert.is(d.getUint16(6, true) & 0xff, 0x81, "fnstsw saw the pending exception");
  assert.is(d.getUint16(12, true), 0, "fnclex cleared it");
  assert.is(d.getUint16(2, true), 0x027f, "fnstcw reads back what fldcw loaded");
  assert.is(fxOut[4], 0, "emms emptied the tag word");
  assisted(run.exit.assists, "fnclex", "fldcw", "fwait");
});

test("fild", async () => {
  const code = [
    0xdb, 0xe3, // fninit
    0xdb, 0x47, 0x08, // fild dword [rdi+8]
    0xdd, 0x7f, 0x04, // fnstsw [rdi+4]
    0x48, 0x0f, 0xae, 0x06, // fxsave64 [rsi]
    ...RESET,
  ];
  let status = 0;
  let st0 = new Uint8Array();
  const run = await runGuest({
    mode: "long", code,
    regs: () => ({ rdi: BigInt(DATA), rsi: BigInt(FXAREA) }),
    setup: (m) => m.mem.dataView(DATA + 8, 4).setInt32(0, -12345, true),
    after: (m) => {
      status = m.mem.dataView(DATA + 4, 2).getUint16(0, true);
      st0 = m.mem.read(FXAREA + 32, 10).slice();
    },
  });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  assert.is((status >> 11) & 7, 7, "one value pushed: TOP is 7");
  assert.equal([...st0], [...integerToExtended(-12345n)], "ST(0) holds -12345");
  assisted(run.exit.assists, "fild");
});

test("mxcsr", async () => {
  const code = [
    0x0f, 0xae, 0x17, // ldmxcsr [rdi]
    0x0f, 0xae, 0x5f, 0x04, // stmxcsr [rdi+4]
    ...RESET,
  ];
  let stored = 0;
  const run = await runGuest({
    mode: "long", code,
    regs: () => ({ rdi: BigInt(DATA) }),
    setup: (m) => m.mem.dataView(DATA, 4).setUint32(0, 0x9fc0, true),
    after: (m) => (stored = m.mem.dataView(DATA + 4, 4).getUint32(0, true)),
  });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  assert.is(stored, 0x9fc0);
  assisted(run.exit.assists, "ldmxcsr", "stmxcsr");
});

test("fxsave/fxrstor", async () => {
  // Restore an image with a distinctive MXCSR and control word, save it elsewhere, compare.
  const code = [
    0x48, 0x0f, 0xae, 0x0e, // fxrstor64 [rsi]
    0x48, 0x0f, 0xae, 0x87, 0x00, 0x02, 0x00, 0x00, // fxsave64 [rdi+0x200]
    ...RESET,
  ];
  let saved = new Uint8Array();
  const run = await runGuest({
    mode: "long", code,
    regs: () => ({ rdi: BigInt(FXAREA), rsi: BigInt(FXAREA) }),
    setup: (m) => {
      const img = m.mem.dataView(FXAREA, 512);
      img.setUint16(0, 0x027f, true); // fcw
      img.setUint32(24, 0x1f80 | 0x6000, true); // mxcsr: round toward zero
      for (let i = 0; i < 16; i++) img.setUint8(160 + i, 0xa0 + i); // xmm0
    },
    after: (m) => (saved = m.mem.read(FXAREA + 0x200, 512).slice()),
  });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  const s = new DataView(saved.buffer);
  assert.is(s.getUint16(0, true), 0x027f);
  assert.is(s.getUint32(24, true), 0x7f80);
  assert.equal([...saved.subarray(160, 176)], Array.from({ length: 16 }, (_, i) => 0xa0 + i));
});

test("xgetbv", async () => {
  const code = [
    0x0f, 0x20, 0xe0, // mov rax, cr4
    0x48, 0x0d, 0x00, 0x00, 0x04, 0x00, // or rax, OSXSAVE
    0x0f, 0x22, 0xe0, // mov cr4, rax
    0x31, 0xc9, // xor ecx, ecx
    0x0f, 0x01, 0xd0, // xgetbv
    ...REPORT_EAX,
    ...RESET,
  ];
  const run = await runGuest({ mode: "long", code });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  assert.is(run.recorder.values[0] & 1, 1, "XCR0 has x87 (its reset value is 1)");
  assisted(run.exit.assists, "xgetbv");
});

/** CR4.OSXSAVE on, then XCR0 = x87 | SSE | AVX (EDX:EAX stays 7 for what follows). */
const ENABLE_XSAVE_AVX = [
  0x0f, 0x20, 0xe0, // mov rax, cr4
  0x48, 0x0d, 0x00, 0x00, 0x04, 0x00, // or rax, OSXSAVE
  0x0f, 0x22, 0xe0, // mov cr4, rax
  0x31, 0xc9, // xor ecx, ecx
  0xb8, 0x07, 0x00, 0x00, 0x00, // mov eax, 7
  0x31, 0xd2, // xor edx, edx
  0x0f, 0x01, 0xd1, // xsetbv
];
/**
 * Whether the vCPU's CPUID lists AVX state; when not (a CPU model without
 * AVX), ENABLE_XSAVE_AVX at LONG_CODE is patched to set XCR0 = x87 | SSE.
 */
function enableAvxIfListed(m: Machine): boolean {
  const leafD = m.vcpu(0).getCpuid().find((e) => e.function === 0xd && e.index === 0);
  const avx = ((leafD?.eax ?? 0) & 4) !== 0;
  if (!avx) m.mem.write(LONG_CODE + ENABLE_XSAVE_AVX.indexOf(0xb8) + 1, Uint8Array.of(3));
  return avx;
}
const XAREA = 0x20000; // four 4 KiB areas, clear of the page tables and the code
const YMM_HI = 576; // AVX state (upper YMM halves) in the standard form, per CPUID 0xD

test("xsave/xrstor", async () => {
  const code = [
    ...ENABLE_XSAVE_AVX,
    0x48, 0x0f, 0xae, 0x2e, // xrstor64 [rsi]: area 0, every component in use
    0x48, 0x0f, 0xae, 0x27, // xsave64 [rdi]: area 1
    0x49, 0x0f, 0xae, 0x28, // xrstor64 [r8]: area 2, XSTATE_BV says AVX is in its initial state
    0xb8, 0x03, 0x00, 0x00, 0x00, // mov eax, 3: x87 and SSE only
    0x49, 0x0f, 0xae, 0x21, // xsave64 [r9]: area 3
    ...RESET,
  ];
  const area = (i: number) => XAREA + i * 0x1000;
  let saved: Uint8Array[] = [];
  let avx = true;
  const run = await runGuest({
    mode: "long", code,
    regs: () => ({ rsi: BigInt(area(0)), rdi: BigInt(area(1)), r8: BigInt(area(2)), r9: BigInt(area(3)) }),
    setup: (m) => {
      avx = enableAvxIfListed(m);
      const a = m.mem.dataView(area(0), 1024);
      a.setUint16(0, 0x027f, true); // fcw
      a.setUint32(24, 0x1f80 | 0x6000, true); // mxcsr: round toward zero
      for (let i = 0; i < 16; i++) a.setUint8(160 + i, 0xa0 + i); // xmm0
      for (let i = 0; i < 16; i++) a.setUint8(YMM_HI + i, 0xc0 + i); // upper half of ymm0
      a.setBigUint64(512, avx ? 7n : 3n, true); // XSTATE_BV
      const b = m.mem.dataView(area(2), 1024);
      b.setUint16(0, 0x037f, true);
      b.setUint32(24, 0x1f80, true);
      for (let i = 0; i < 16; i++) b.setUint8(YMM_HI + i, 0x55); // ignored: XSTATE_BV bit 2 is clear
      b.setBigUint64(512, 3n, true);
      m.mem.slice(area(3) + YMM_HI, 256).fill(0xee); // xsave with EDX:EAX = 3 must leave it alone
      m.mem.dataView(area(3), 1024).setBigUint64(512, 4n, true);
    },
    after: (m) => (saved = [1, 3].map((i) => m.mem.read(area(i), 1024).slice())),
  });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  const [one, three] = saved;
  const v1 = new DataView(one.buffer);
  assert.is(v1.getUint16(0, true), 0x027f, "FCW restored and saved");
  assert.is(v1.getUint32(24, true), 0x7f80, "MXCSR restored and saved");
  assert.equal([...one.subarray(160, 176)], Array.from({ length: 16 }, (_, i) => 0xa0 + i), "xmm0");
  if (avx) {
    assert.equal([...one.subarray(YMM_HI, YMM_HI + 16)], Array.from({ length: 16 }, (_, i) => 0xc0 + i), "upper half of ymm0");
    assert.ok(v1.getBigUint64(512, true) & 4n, "XSTATE_BV: AVX in use");
  }
  // After restoring area 2, AVX is in its initial state (zero), whatever area 2 held.
  const v3 = new DataView(three.buffer);
  assert.equal([...three.subarray(YMM_HI, YMM_HI + 256)], new Array(256).fill(0xee), "AVX state not requested: not written");
  assert.is(v3.getBigUint64(512, true) & 4n, 4n, "XSTATE_BV bits outside the request stay");
  assert.is(v3.getUint16(0, true), 0x037f, "x87 state of area 2");
  assisted(run.exit.assists, "xsave", "xrstor");
});

test("xsave to an unmapped address raises #PF with CR2 and the error code", async () => {
  const handler = LONG_CODE + 0x200;
  const code = [
    ...ENABLE_XSAVE_AVX,
    0x48, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // mov rdi, 4 GiB: past the identity map
    0x48, 0x0f, 0xae, 0x27, // xsave64 [rdi]
    0xb8, 0xad, 0x0b, 0x00, 0x00, // mov eax, 0xbad: never reached
    ...REPORT_EAX,
    ...RESET,
  ];
  const handlerCode = [
    0x0f, 0x20, 0xd0, // mov rax, cr2
    ...REPORT_EAX,
    0x48, 0xc1, 0xe8, 0x20, // shr rax, 32
    ...REPORT_EAX,
    0x58, // pop rax: the error code
    ...REPORT_EAX,
    ...RESET,
  ];
  const run = await runGuest({
    mode: "long", code,
    setup: (m) => {
      enableAvxIfListed(m);
      installHandler(m, 14, handler, handlerCode);
    },
  });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  const [cr2Low, cr2High, errorCode] = run.recorder.values;
  assert.is(cr2High * 2 ** 32 + cr2Low, 2 ** 32, "CR2 is the address xsave wrote to");
  assert.is(errorCode & 7, 2, "error code: not present, write, supervisor");
  assisted(run.exit.assists, "xsave");
});

test("rdtscp", async () => {
  const code = [
    0x0f, 0x01, 0xf9, // rdtscp
    0x89, 0xc8, // mov eax, ecx
    ...REPORT_EAX,
    ...RESET,
  ];
  const run = await runGuest({ mode: "long", code, setup: (m) => m.vcpu(0).setMsrs([[0xc0000103, 0x42n]]) });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  assert.equal(run.recorder.values, [0x42], "ECX is TSC_AUX");
  assisted(run.exit.assists, "rdtscp");
});

test("popcnt", async () => {
  const code = [
    0xb9, 0xf0, 0xf0, 0x00, 0x00, // mov ecx, 0xf0f0
    0xf3, 0x48, 0x0f, 0xb8, 0xc1, // popcnt rax, rcx
    ...REPORT_EAX,
    0xf3, 0x0f, 0xb8, 0x07, // popcnt eax, [rdi]
    ...REPORT_EAX,
    0x31, 0xc9, // xor ecx, ecx
    0xf3, 0x0f, 0xb8, 0xc1, // popcnt eax, ecx (zero: ZF set)
    0x9c, 0x58, // pushfq; pop rax
    ...REPORT_EAX,
    ...RESET,
  ];
  const run = await runGuest({
    mode: "long", code, regs: () => ({ rdi: BigInt(DATA) }),
    setup: (m) => m.mem.dataView(DATA, 4).setUint32(0, 0xffffffff, true),
  });
  assert.is(run.exit.exitReason, "reset", run.exit.detail);
  assert.is(run.recorder.values[0], 8);
  assert.is(run.recorder.values[1], 32);
  assert.ok(run.recorder.values[2] & 0x40, "ZF set for a zero source");
  assisted(run.exit.assists, "popcnt");
});

test("an instruction with no assist stops the VM and names the instruction", async () => {
  if (!pvmHost) return; // hardware KVM runs vzeroupper (or raises #UD) by itself
  const run = await runGuest({ mode: "long", code: [0xc5, 0xf8, 0x77, ...RESET] }); // vzeroupper
  assert.is(run.exit.exitReason, "internal-error");
  assert.match(run.exit.detail ?? "", /vzeroupper/);
});

test("every assist names a test in this file", () => {
  for (const a of ASSISTS) assert.match(a.test, /^test\/stages\/boot\/assists\.vm\.test\.ts: /, a.name);
  const names = new Set(["clac/stac", "int3", "x87 control", "fild", "mxcsr", "fxsave/fxrstor", "xsave/xrstor", "xgetbv", "rdtscp", "popcnt"]);
  for (const a of ASSISTS) assert.ok(names.has(a.test.split(": ")[1]), `${a.name} points at a test that does not exist: ${a.test}`);
});

test.run();
