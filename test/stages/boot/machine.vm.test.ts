// The VMM's basics on a real VM: memory, port and MMIO exits, serial output,
// reset, triple fault, several vCPUs, timeout.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RESET, runGuest } from "./guest.js";
import { MmioDevice } from "../../../stages/boot/devices/device.js";

test("real mode: serial output, then reset through the i8042 ends the VM", async () => {
  const msg = [...Buffer.from("hello from the guest\n"), 0];
  const code = [
    0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0xbe, 0x00, 0x11, // mov si, 0x1100 (the message, below)
    0xac, // lodsb
    0x84, 0xc0, // test al, al
    0x74, 0x03, // jz +3
    0xee, // out dx, al
    0xeb, 0xf8, // jmp lodsb
    ...RESET,
  ];
  const run = await runGuest({ mode: "real", code, setup: (m) => m.mem.write(0x1100, Uint8Array.from(msg)) });
  assert.is(run.exit.exitReason, "reset");
  assert.is(run.console, "hello from the guest\n");
});

test.run();
