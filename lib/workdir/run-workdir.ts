// One run's work directory: <work root>/run-<pid>-<random>/, with one
// subdirectory per stage output. Removed when the run ends (success, error,
// stage crash, Ctrl-C) unless kept: a kept one is named kept-<pid>-<random>/,
// which the sweep of dead runs' directories never takes.
import { mkdirSync, mkdtempSync, realpathSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { defaultWorkRoot } from "./work-root.js";
import { removeTree } from "./remove-tree.js";
import { registerCleanup } from "./interrupts.js";
import { giveToStage } from "../sandbox/stage-identity.js";
import { makeDirectory } from "../fs/make-directory.js";

export interface WorkdirOptions {
  /** Parent of run directories; default defaultWorkRoot(). */
  root?: string;
  /** Leave the directory in place after the run (--keep). */
  keep?: boolean;
}

export class RunWorkdir {
  private disposed = false;
  private readonly unregister: () => void;

  private constructor(readonly path: string, readonly keep: boolean) {
    this.unregister = registerCleanup(() => this.removeNow());
  }

  static create(options: WorkdirOptions = {}): RunWorkdir {
    const root = options.root ?? defaultWorkRoot();
    try {
      makeDirectory(root, 0o755);
    } catch (err) {
      throw new Error(`work directory root ${root}: ${(err as Error).message}`);
    }
    // Real path: the sandbox binds it at the same path, symlinks resolved.
    const path = realpathSync(mkdtempSync(join(root, `${options.keep ? "kept" : "run"}-${process.pid}-`)));
    return new RunWorkdir(path, options.keep ?? false);
  }

  /** A fresh subdirectory for one stage's output (traversable by the stage's unprivileged uid). */
  stageDir(name: string): string {
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new Error(`invalid work directory name ${JSON.stringify(name)}`);
    const dir = join(this.path, name);
    mkdirSync(dir, { mode: 0o755 });
    giveToStage(dir);
    return dir;
  }

  /** Removes the directory unless it is kept. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.unregister();
    if (!this.keep) removeTree(this.path);
  }

  private removeNow(): void {
    if (!this.disposed && !this.keep) removeTree(this.path);
    this.disposed = true;
  }
}

/** Runs `fn` with a fresh run directory and disposes of it however `fn` ends. */
export async function withRunWorkdir<T>(options: WorkdirOptions, fn: (workdir: RunWorkdir) => Promise<T>): Promise<T> {
  const workdir = RunWorkdir.create(options);
  try {
    return await fn(workdir);
  } finally {
    workdir.dispose();
  }
}

/**
 * Removes run directories whose coordinator is gone (killed with SIGKILL,
 * the machine rebooted): their names carry the coordinator's pid. Returns
 * the directories removed.
 */
export function sweepStaleRuns(root = defaultWorkRoot(), minAgeMs = 60_000): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = /^run-(\d+)-/.exec(name);
    if (!match) continue;
    const path = join(root, name);
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs < minAgeMs) continue;
      removeTree(path);
      removed.push(path);
    } catch {
      // Another sweeper got there first, or it is not ours to remove.
    }
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
