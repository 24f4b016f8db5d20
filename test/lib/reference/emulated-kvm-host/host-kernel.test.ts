import { test } from "uvu";
import * as assert from "uvu/assert";
import { moduleLoadOrder } from "../../../../lib/reference/emulated-kvm-host/host-kernel.js";

// The shape of a real modules.dep (Debian 6.1): a module, then what it needs.
const MODULES_DEP = [
  "kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko",
  "kernel/arch/x86/kvm/kvm-amd.ko: kernel/drivers/crypto/ccp/ccp.ko kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko",
  "kernel/virt/lib/irqbypass.ko:",
  "kernel/drivers/crypto/ccp/ccp.ko:",
  "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko",
  "kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko",
  "kernel/fs/netfs/netfs.ko:",
  "kernel/net/9p/9pnet.ko:",
  "kernel/fs/xfs/xfs.ko.xz:",
].join("\n");

test("every module comes after all it depends on, each once", () => {
  const order = moduleLoadOrder(MODULES_DEP, ["kvm-amd", "9p"]);
  const at = (name: string) => order.findIndex((path) => path.endsWith(`/${name}.ko`));
  assert.equal(order.length, new Set(order).size);
  assert.ok(at("irqbypass") < at("kvm") && at("kvm") < at("kvm-amd") && at("ccp") < at("kvm-amd"));
  assert.ok(at("netfs") < at("fscache") && at("fscache") < at("9p") && at("9pnet") < at("9p"));
  assert.is(order.length, 8);
});

test("a compressed module is found by its name", () => {
  assert.equal(moduleLoadOrder(MODULES_DEP, ["xfs"]), ["kernel/fs/xfs/xfs.ko.xz"]);
});

test("a module the kernel does not have, or a cycle, is a one-line error", () => {
  assert.throws(() => moduleLoadOrder(MODULES_DEP, ["kvm-intel"]), /^modules\.dep: no module kvm-intel$/);
  assert.throws(() => moduleLoadOrder("a.ko: b.ko\nb.ko: a.ko\n", ["a"]), /modules\.dep: a dependency cycle through a\.ko/);
});

test.run();
