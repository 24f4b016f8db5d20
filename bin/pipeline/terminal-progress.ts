// Progress of a pipeline run for a person at a terminal: one status line on
// stderr, rewritten in place, only when stderr is a terminal. It is cleared
// before any of the guest's output is written and stays off once the command
// runs, so progress never mixes into what the command prints.
import { statusLineWidth } from "../cli/progress.js";

export class TerminalProgress {
  private shown = false;
  private off = false;
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, enabled = true) {
    this.tty = enabled && stream.isTTY === true;
  }

  show(message: string): void {
    if (!this.tty || this.off) return;
    this.clear();
    this.stream.write(`bencher-run: ${message.replace(/\s*\n\s*/g, " ")}`.slice(0, statusLineWidth(this.stream)));
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.stream.write("\r\x1b[K");
    this.shown = false;
  }

  /** The command is running: its output owns the terminal from now on. */
  stop(): void {
    this.clear();
    this.off = true;
  }

  /** Before the next run (--iter). */
  restart(): void {
    this.off = false;
  }
}
