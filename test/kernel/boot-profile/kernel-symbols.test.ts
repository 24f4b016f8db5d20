import { test } from "uvu";
import * as assert from "uvu/assert";
import { histogram, parseNm } from "../../../kernel/boot-profile/kernel-symbols.js";
import { parseRipSampleMessage, ripSampleMessage } from "../../../stages/boot/rip-sample.js";

const NM = [
  "0000000000000000 A VDSO64_PRELINK",
  "ffffffff81000000 T _stext",
  "ffffffff81000100 t clear_bss",
  "ffffffff81000180 d some_data",
  "ffffffff81000200 W weak_function",
  "ffffffff81000300 T memmap_init_range",
].join("\n");

test("a RIP is named by the nearest text symbol at or below it; data and absolute symbols are not functions", () => {
  const s = parseNm(NM);
  assert.is(s.count, 4);
  assert.is(s.at(0xffffffff81000100n), "clear_bss");
  assert.is(s.at(0xffffffff810001f0n), "clear_bss", "some_data is not a function");
  assert.is(s.at(0xffffffff81000250n), "weak_function");
  assert.is(s.at(0xffffffff81ffffffn), "memmap_init_range");
  assert.is(s.at(0x1000n), undefined, "below the kernel");
});

test("nm output out of address order is refused (it needs nm -n)", () => {
  assert.throws(() => parseNm("ffffffff81000200 T b\nffffffff81000100 T a"), /not in address order at a/);
});

test("the histogram counts samples per function, most first, with unnamed RIPs kept apart", () => {
  const s = parseNm(NM);
  const rows = histogram(s, [0xffffffff81000310n, 0xffffffff81000320n, 0xffffffff81000110n, 0x10n]);
  assert.equal(rows.map((r) => [r.name, r.samples]), [["memmap_init_range", 2], ["?10", 1], ["clear_bss", 1]]);
  assert.is(rows[0].share, 0.5);
});

test("a sample's debug line reads back as the sample; other lines do not", () => {
  const line = ripSampleMessage(1, { rip: "ffffffff81000310", cpl: 0 });
  assert.equal(parseRipSampleMessage(line), { vcpu: 1, rip: 0xffffffff81000310n, cpl: 0 });
  assert.is(parseRipSampleMessage("exits: pio:0x3f8 12"), undefined);
});

test.run();
