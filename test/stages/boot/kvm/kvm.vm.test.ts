// The VM handle's background ioctl (the PIT's reinject mode): the machine
// waits for it before running, a failure is reported with the call's name
// and errno, and closing the VM while it runs leaves no descriptor behind.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync } from "node:fs";
import { Kvm, Vm } from "../../../../stages/boot/kvm/kvm.js";
import { ioctlInBackground } from "../../../../stages/boot/kvm/libc.js";
import { ioctls } from "../../../../stages/boot/kvm/constants.js";

const openFds = () => readdirSync("/proc/self/fd").length;

test("interrupt controllers: ready() settles once the PIT's mode is set", async () => {
  const kvm = Kvm.open();
  const vm = Vm.create(kvm);
  try {
    vm.createInterruptControllers();
    await vm.ready();
  } finally {
    vm.close();
    kvm.close();
  }
});

test("closing the VM while the background ioctl runs closes its descriptor once that ends", async () => {
  const before = openFds();
  const kvm = Kvm.open();
  const vm = Vm.create(kvm);
  vm.createInterruptControllers();
  vm.close();
  kvm.close();
  await vm.ready();
  assert.is(openFds(), before);
});

test("a failing background ioctl rejects naming the call and errno", async () => {
  const err = await ioctlInBackground(987654, ioctls.REINJECT_CONTROL, new Uint8Array(32), "KVM_REINJECT_CONTROL").then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err, "expected a rejection");
  assert.match(err!.message, /^KVM_REINJECT_CONTROL failed: Bad file descriptor \(errno 9\)$/);
});

test.run();
