// Progress and logs from stages. On a terminal: one status line on stderr,
// rewritten in place, with warnings above it. Not on a terminal: quiet
// (warnings only, one line each), so scripts read clean output.
import type { LogLevel } from "../../lib/ipc/messages.js";

export interface Reporter {
  progress(stage: string, fraction: number | null, message: string): void;
  log(stage: string, level: LogLevel, message: string): void;
  /** Clears the status line (call before printing results). */
  done(): void;
}

export function createReporter(options: { verbose?: boolean; stream?: NodeJS.WriteStream } = {}): Reporter {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  let statusShown = false;
  const clear = () => {
    if (statusShown) stream.write("\r\x1b[K");
    statusShown = false;
  };
  return {
    progress(stage, fraction, message) {
      if (!tty) return;
      const percent = fraction === null ? "" : ` ${Math.round(fraction * 100)}%`;
      clear();
      stream.write(`[${stage}]${percent} ${oneLine(message)}`.slice(0, statusLineWidth(stream)));
      statusShown = true;
    },
    log(stage, level, message) {
      if (level === "debug" && !options.verbose) return;
      if (level === "info" && !options.verbose) return;
      clear();
      stream.write(`bencher-run: ${stage}: ${level === "warn" ? "warning: " : ""}${oneLine(message)}\n`);
    },
    done: clear,
  };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}

/**
 * How long a status line may be: one less than the terminal is wide (no
 * wrap), never under 20. A pty that reports 0 columns (a serial console, some
 * CI runners) has not said its width: 80 then.
 */
export function statusLineWidth(stream: NodeJS.WriteStream): number {
  return Math.max(20, (stream.columns || 80) - 1);
}
