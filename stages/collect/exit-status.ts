// The exit status a `docker run`-like front end gives for a collected run.
import type { CollectResult } from "./collect.js";

/** The command ran out of time (as coreutils' `timeout`). */
export const TIMEOUT_EXIT_STATUS = 124;
/** The runner itself failed: no guest, boot deadline, stream lost, … (as Docker's 125). */
export const RUNNER_FAILURE_EXIT_STATUS = 125;
/** The command could not be executed (Docker's 126), or was not found (Docker's 127). */
export const CANNOT_EXECUTE_EXIT_STATUS = 126;
export const NOT_FOUND_EXIT_STATUS = 127;

/** A command killed by signal N exits 128 + N, as a shell reports it. */
export function signalExitStatus(signal: number): number {
  if (!Number.isInteger(signal) || signal < 1 || signal > 127) throw new Error(`signal ${signal} is not a signal number`);
  return 128 + signal;
}

/** The status to exit with after this run. */
export function exitStatusFor(result: CollectResult): number {
  if (result.timedOut) return TIMEOUT_EXIT_STATUS;
  if (result.guestError !== null) {
    // guest-init/workload.c reports a failed exec as "cannot execute ARGV0: <strerror>".
    if (!result.guestError.startsWith("cannot execute ")) return RUNNER_FAILURE_EXIT_STATUS;
    return result.guestError.endsWith("No such file or directory") ? NOT_FOUND_EXIT_STATUS : CANNOT_EXECUTE_EXIT_STATUS;
  }
  // Once EXIT arrived the command's outcome is known, even if files were cut off after it (result.error says so).
  if (result.signal !== null) return signalExitStatus(result.signal);
  return result.exitCode ?? RUNNER_FAILURE_EXIT_STATUS;
}
