// Ctrl-C and SIGTERM for the coordinator. The first signal aborts
// `interruptSignal()` so running stages are stopped and every `finally`
// removes its work directory; if that has not finished after a grace period,
// or a second signal arrives, the registered synchronous cleanups run and the
// process exits at once. Either way nothing is left behind.

const controller = new AbortController();
const cleanups = new Set<() => void>();
let installed = false;

/** How long the orderly path may take before cleanup is forced. */
export const FORCE_AFTER_MS = 10_000;

/** Exit status for a run stopped by a signal (128 + signal number). */
export function interruptExitCode(signal: NodeJS.Signals): number {
  return signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 1;
}

/** Aborted on the first SIGINT/SIGTERM; installs the handlers on first use. */
export function interruptSignal(): AbortSignal {
  install();
  return controller.signal;
}

/** The signal that interrupted this process, or null. */
export function interruptedBy(): NodeJS.Signals | null {
  const reason = controller.signal.reason;
  return controller.signal.aborted && reason instanceof InterruptedError ? reason.signal : null;
}

/** A last-resort synchronous cleanup (also run at process exit); returns its unregister function. */
export function registerCleanup(cleanup: () => void): () => void {
  install();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs the cleanups, newest first (a stage started in a run directory is killed before the directory goes). */
export function runCleanupsNow(): void {
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // One failed cleanup must not stop the others.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      runCleanupsNow();
      process.exit(interruptExitCode(signal));
    }
    controller.abort(new InterruptedError(signal));
    setTimeout(() => {
      runCleanupsNow();
      process.exit(interruptExitCode(signal));
    }, FORCE_AFTER_MS).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", runCleanupsNow);
}

export class InterruptedError extends Error {
  override name = "InterruptedError";
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}
