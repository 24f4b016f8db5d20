// Run by ./setup: fetches the emulated KVM host's kernel into the cache
// (skipped when the package apt offers is already there).
//   node dist/lib/reference/emulated-kvm-host/prepare.js
import { prepareHostKernel } from "./host-kernel.js";

try {
  const kernel = prepareHostKernel((line) => process.stderr.write(`${line}\n`));
  process.stderr.write(`emulated KVM host kernel: ${kernel.release} (${kernel.dir})\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
