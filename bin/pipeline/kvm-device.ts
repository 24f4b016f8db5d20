// /dev/kvm, opened by the coordinator and handed to the boot stage (the only
// stage that may have it: lib/sandbox/stage-policy.ts).
import { closeSync, openSync } from "node:fs";
import { PipelineError } from "./errors.js";

/** The descriptor number the boot stage sees /dev/kvm as. */
export const KVM_FD_IN_STAGE = 3;

export function openKvmDevice(): number {
  try {
    return openSync("/dev/kvm", "r+");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new PipelineError("/dev/kvm: not present (no KVM on this host; see bencher-run doctor)");
    if (code === "EACCES") throw new PipelineError("/dev/kvm: permission denied (add yourself to the kvm group; see bencher-run doctor)");
    throw new PipelineError(`/dev/kvm: ${(err as Error).message}`);
  }
}

/** Fails at once when no VM could run here (for a batch of runs that would each find it out). */
export function checkKvmDevice(): void {
  closeSync(openKvmDevice());
}
