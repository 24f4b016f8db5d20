// Run on the emulated KVM host for its whole session (initramfs.ts starts it
// before the script): one idle KVM VM with an in-kernel irqchip and a vCPU
// that never runs. KVM turns static keys of the host kernel on when the first
// VM (or vCPU) appears and off when the last one goes: the scheduler's
// preempt notifiers, the local APIC's "software-disabled" key. Each flip
// rewrites kernel code through a temporary int3 (text_poke_bp), and QEMU
// 7.2's software CPU now and then keeps running its stale translation with the
// int3 in it: every CPU then loops in the int3 handler with interrupts off
// and the host stops, clock and all (seen: both CPUs at __schedule+0x2ab in
// exc_int3 while memory there held the 5-byte NOP). With this VM held, the
// tests' VMs come and go without flipping those keys. Its own flip comes
// while the host has only one CPU up (initramfs.ts), so no other CPU runs
// the code being rewritten.
import { Kvm, Vm } from "../../../stages/boot/kvm/kvm.js";
import { IDLE_VM_READY } from "./initramfs.js";

const kvm = Kvm.open();
const vm = Vm.create(kvm);
vm.createInterruptControllers();
vm.createVcpu(0);
await vm.ready();
console.log(IDLE_VM_READY);
// Held until the host powers off.
setInterval(() => {}, 2 ** 31 - 1);
