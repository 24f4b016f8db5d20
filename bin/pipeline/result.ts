// What one pipeline run hands back, and how its parts are decided from what
// collect and boot reported.
import type { BootResult } from "../../stages/boot/boot.js";
import type { OutputFileStatus } from "../../lib/guest-protocol/messages.js";
import type { CpuPinning } from "../../lib/cpu-affinity/pinning.js";
import type { CollectResult, Transport } from "../../stages/collect/collect.js";
import { exitStatusFor, RUNNER_FAILURE_EXIT_STATUS } from "../../stages/collect/exit-status.js";

export interface PipelineMetrics {
  /** The whole run, from the call to the result. */
  wallMs: number;
  /** unpack + mkrootfs (0 when the root image came from the cache). */
  prepareMs: number;
  /** From the VM's start (collect listening) until guest-init said READY. */
  bootMs: number | null;
  /** The command's own wall time, fork to reap, measured in the guest. */
  runMs: number | null;
  userMs: number | null;
  sysMs: number | null;
  maxRssKiB: number | null;
  /** How the guest's frames came back: "vsock", "serial" (the console fallback), both, or "none". */
  transport: Transport;
  /** Until the guest kernel started /init (the VMM's view), when it got that far. */
  kernelBootMs: number | null;
  /** The VM's whole life. */
  vmMs: number | null;
}

export interface PipelineResult {
  /** The exit status `bencher-run pipeline` exits with: the command's code, 128+N on signal N, 124 on timeout, 126/127 when it could not be executed, 125 when the runner failed. */
  status: number;
  /** The command's exit code; null when it was killed by a signal or never ran. */
  exitCode: number | null;
  /** The signal number that killed the command. */
  signal: number | null;
  /** The command ran past its time limit and was stopped; stdout/stderr hold what it printed until then. */
  timedOut: boolean;
  stdout: Buffer;
  stderr: Buffer;
  /** Bytes were dropped beyond the max output size; `outputs` lists output files cut short. */
  truncated: { stdout: boolean; stderr: boolean; outputs: string[] };
  /** Guest path → contents, or null when the file was not brought back (missing, not a regular file, unreadable). */
  outputs: Record<string, Buffer | null>;
  /** Guest path → why an --output file did not come back, in words ("no such file in the guest", …). */
  notReturned: Record<string, string>;
  /** Guest path → host path, for files saved to the output directory. */
  savedOutputs: Record<string, string>;
  metrics: PipelineMetrics;
  /** The image ID; whether its root image came from the cache; a registry image's reference pinned to the digest it was run at. */
  image: { digest: string; cached: boolean; reference?: string };
  /** Set when the runner failed (status 125): why, in one line. */
  error?: string;
  /** Why the guest could not run the command (its ERROR message): status 126/127/125. */
  guestError: string | null;
  /** Frames from the guest that failed verification and were ignored. */
  forgedFrames: number;
  /** How the VM ended (vmEnding); the console's last lines when the runner failed. */
  vm: VmEnding | null;
  /** The run directory, when kept (--keep): console log, overlay, unpacked image. */
  runDir?: string;
}

/** Why a file the guest did not send back is missing, in the words of a note to the user. */
export function whyNotReturned(status: OutputFileStatus | "not-received"): string {
  switch (status) {
    case "missing": return "no such file in the guest";
    case "not-regular": return "not a regular file in the guest";
    case "unreadable": return "the guest could not read it";
    default: return "the run ended before the guest sent it";
  }
}

/** True when the guest reported how its command ended (or that it could not start it, or it timed out). */
function commandOutcomeKnown(c: CollectResult): boolean {
  return c.timedOut || c.exitCode !== null || c.signal !== null || (c.guestError !== null && c.guestError.startsWith("cannot execute "));
}

/** The one-line reason for a runner failure, from collect's and boot's views. */
export function runnerFailure(collect: CollectResult, boot: BootResult | null, bootError: string | undefined): string | undefined {
  if (commandOutcomeKnown(collect)) return undefined;
  // A panic explains everything after it (the guest reset, the stream broke off).
  if (boot?.panic !== undefined) return `guest kernel panicked: ${boot.panic}`;
  const parts: string[] = [];
  if (bootError) parts.push(`boot failed: ${bootError}`);
  if (collect.error) parts.push(collect.error);
  else if (collect.guestError) parts.push(`the guest could not run the command: ${collect.guestError}`);
  if (boot && boot.exitReason !== "aborted" && boot.exitReason !== "reset") {
    parts.push(`VM ended: ${boot.exitReason}${boot.detail ? ` (${boot.detail})` : ""}`);
  }
  return parts.length ? parts.join("; ") : "the run ended without a result from the guest";
}

export interface VmEnding {
  /** The boot stage's exit reason, or "stopped": the runner stopped the VM once collect had finished. */
  exitReason: BootResult["exitReason"] | "stopped";
  detail?: string;
  consoleTail?: string;
  pinning?: CpuPinning;
}

/**
 * How the VM ended, as the run reports it. The runner stops the VM as soon
 * as collect has finished rather than wait for guest-init's reset (0.4 s on a
 * nested host): the boot stage then says "aborted", which would read as a
 * failure, so the run names it for what it was.
 */
export function vmEnding(boot: BootResult, stoppedAfterCollect: boolean, failure: string | undefined): VmEnding {
  const stopped = stoppedAfterCollect && boot.exitReason === "aborted";
  return {
    exitReason: stopped ? "stopped" : boot.exitReason,
    ...(stopped ? { detail: "stopped by the runner once collect had finished" } : boot.detail ? { detail: boot.detail } : {}),
    ...(boot.pinning ? { pinning: boot.pinning } : {}),
    ...(boot.consoleTail && failure !== undefined ? { consoleTail: boot.consoleTail } : {}),
  };
}

export function statusFor(collect: CollectResult, failure: string | undefined): number {
  return failure !== undefined ? RUNNER_FAILURE_EXIT_STATUS : exitStatusFor(collect);
}
