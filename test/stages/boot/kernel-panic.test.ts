// A guest kernel panic is found in the console text, whatever came before it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { kernelPanicMessage } from "../../../stages/boot/kernel-panic.js";

test("the panic message is taken from the console line", () => {
  const console = "[    5.1] sysrq: Trigger a crash\r\n[    5.1] Kernel panic - not syncing: sysrq triggered crash\r\n[    5.1] Rebooting in 1 seconds..\r\n";
  assert.is(kernelPanicMessage(console), "sysrq triggered crash");
  assert.is(kernelPanicMessage("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009\n"), "Attempted to kill init! exitcode=0x00000009");
});

test("no panic line, no panic; an empty message is still a panic", () => {
  assert.is(kernelPanicMessage("[ 1.0] Run /init as init process\nguest-init: ready\n"), undefined);
  assert.is(kernelPanicMessage(""), undefined);
  assert.is(kernelPanicMessage("Kernel panic - not syncing:\n"), "(no message)");
});

test.run();
