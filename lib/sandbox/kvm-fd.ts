// How the boot stage finds the /dev/kvm descriptor the coordinator opened for
// it: the sandbox passes it as an extra stdio descriptor and names its number
// in this environment variable. No stage can open /dev/kvm by path.
export const KVM_FD_ENV = "BENCHER_RUN_KVM_FD";

/** The inherited /dev/kvm file descriptor; throws a one-line error when there is none. */
export function inheritedKvmFd(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[KVM_FD_ENV];
  if (text === undefined) throw new Error(`no /dev/kvm descriptor: ${KVM_FD_ENV} is not set (only the boot stage receives one)`);
  if (!/^\d+$/.test(text) || Number(text) < 3) throw new Error(`invalid ${KVM_FD_ENV}=${JSON.stringify(text)}: expected a descriptor number >= 3`);
  return Number(text);
}
