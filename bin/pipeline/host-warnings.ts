// Warnings about this run on this host, given before it starts.

/**
 * On a nested PVM host a guest with several vCPUs crashes now and then while
 * the host's CPUs are busy: a host defect, measured and explained in
 * kernel/repro/README.md. Hardware KVM is not known to be affected.
 */
export function multiVcpuWarning(vcpus: number, pvmHost: boolean): string | undefined {
  if (!pvmHost || vcpus < 2) return undefined;
  return `${vcpus} vCPUs on a nested PVM host: while the host's CPUs are busy, processes in such a guest crash now and then (SIGSEGV, exit 139) through a host defect (kernel/repro/README.md); use --vcpus 1 where you can`;
}
