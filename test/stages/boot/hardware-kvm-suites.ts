// The boot stage's VM suites that hardware-kvm.emulated.vm.test.ts runs on
// the emulated hardware-KVM host. Its own module, not the test file's, so the
// test runner can see the list without running that file: when the runner
// puts every VM test file on the emulated host anyway (no /dev/kvm, CI), the
// bundle would run these a second time.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// Small hand-made guests (exits, devices, vCPUs, reset, timeout, held starts,
// reads answered on vCPU threads), the stage executable, ioeventfd/irqfd, the
// instruction assists, our kernel to guest-init, THP-backed guest memory and
// vCPU pinning.
const SUITES = ["kvm/kvm", "machine", "read-mirror", "main", "notify-events", "assists", "boot", "huge-pages", "cpu-pinning"];

/** The suites' compiled test files, absolute. */
export const HARDWARE_KVM_SUITE_FILES = SUITES.map((suite) => join(dirname(fileURLToPath(import.meta.url)), `${suite}.vm.test.js`));

/** The bundle's compiled file, absolute. */
export const HARDWARE_KVM_BUNDLE_FILE = join(dirname(fileURLToPath(import.meta.url)), "hardware-kvm.emulated.vm.test.js");
