// Paths named on the command line, made absolute and checked, since stages
// run with / as their working directory and see only what is bound in.
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, realpathSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { CommandError, CommandLineError } from "./command-error.js";
import { whyNotMade } from "../../lib/fs/make-directory.js";
import { systemReason } from "../../lib/fs/system-reason.js";
import { giveToStage, returnFromStage } from "../../lib/sandbox/stage-identity.js";
import { stageReadProblem, type TreeReading } from "../../lib/sandbox/stage-readable.js";
import { removeTree } from "../../lib/workdir/remove-tree.js";

/** An existing input; its real path. */
export function inputPath(flag: string, value: string, kind?: "file" | "dir"): string {
  const abs = resolve(value);
  if (!existsSync(abs)) throw new CommandError(`--${flag} ${value}: no such file or directory`);
  const real = realpathSync(abs);
  const isDir = statSync(real).isDirectory();
  if (kind === "dir" && !isDir) throw new CommandError(`--${flag} ${value}: not a directory`);
  if (kind === "file" && isDir) throw new CommandError(`--${flag} ${value}: is a directory, expected a file`);
  return real;
}

/** An output directory, given to the stage that fills it. */
export interface OutputDir {
  /** Its real path. */
  path: string;
  /** Made by this command: removed if the command fails. */
  created: boolean;
  /** The owner of a directory the user had made, given back to them if the command fails (or when the stage is done with it). */
  owner?: { uid: number; gid: number };
}

/** An output directory: created if missing, refused if it holds anything. */
export function outputDir(flag: string, value: string): OutputDir {
  const abs = resolve(value);
  if (existsSync(abs)) {
    const st = statSync(abs);
    if (!st.isDirectory()) throw new CommandError(`--${flag} ${value}: exists and is not a directory`);
    if (readdirSync(abs).length > 0) throw new CommandError(`--${flag} ${value}: directory is not empty`);
    giveToStage(abs);
    return { path: realpathSync(abs), created: false, owner: { uid: st.uid, gid: st.gid } };
  }
  if (!existsSync(dirname(abs))) throw new CommandError(`--${flag} ${value}: parent directory does not exist`);
  return { path: makeStageDirectory(abs, (why) => new CommandError(`--${flag} ${value}: cannot create the directory: ${why}`)), created: true };
}

/** After the stage: what it made in the directory is the caller's, and a directory the user had made is theirs again. */
export function releaseOutputDir(out: OutputDir): void {
  returnFromStage(out.path);
  giveBackToUser(out);
}

/** After a failed command: what it made is removed; a directory the user had made is left empty (the stage cleans up) and theirs again. */
export function abandonOutputDir(out: OutputDir): void {
  if (out.created) removeTree(out.path);
  else giveBackToUser(out);
}

function giveBackToUser(out: OutputDir): void {
  if (out.owner && process.getuid?.() === 0) chownSync(out.path, out.owner.uid, out.owner.gid);
}

/**
 * Makes the directory `abs` (its parent exists) and gives it to the stages'
 * uid; its real path. Why it could not be made goes through `refuse`, so the
 * error names what the user typed; EEXIST (made meanwhile) is rethrown as it is.
 */
export function makeStageDirectory(abs: string, refuse: (why: string) => CommandError): string {
  try {
    mkdirSync(abs, { mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw err; // made meanwhile: the caller decides
    throw refuse(whyNotMade(err, abs));
  }
  giveToStage(abs);
  return realpathSync(abs);
}

/**
 * An output file: its directory must exist and take new files, checked
 * before the work that makes the file rather than found when it is saved;
 * the file itself must not exist (no silent overwrite).
 */
export function outputFile(flag: string, value: string, overwrite = false): string {
  const abs = resolve(value);
  const parent = dirname(abs);
  if (!existsSync(parent)) throw new CommandError(`--${flag} ${value}: parent directory does not exist`);
  if (!statSync(parent).isDirectory()) throw new CommandError(`--${flag} ${value}: ${parent} is not a directory`);
  if (existsSync(abs)) {
    if (statSync(abs).isDirectory()) throw new CommandError(`--${flag} ${value}: is a directory (name the file to write)`);
    if (!overwrite) throw new CommandError(`--${flag} ${value}: already exists`);
  }
  const dir = realpathSync(parent);
  const problem = whyNoNewFile(dir);
  if (problem) throw new CommandError(`--${flag} ${value}: ${problem}`);
  return join(dir, basename(abs));
}

/**
 * Why a new file cannot be made in `dir`, found by making (and removing) an
 * empty one: permission bits do not tell (root passes them, yet /sys is
 * read-only and /proc takes no files). Undefined when it can.
 */
function whyNoNewFile(dir: string): string | undefined {
  const probe = join(dir, `.bencher-run-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, "wx", 0o600));
  } catch (err) {
    // ENOENT while the directory is there: a file system that takes no new files.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return `${dir} does not take new files`;
    return `cannot create files in ${dir}: ${systemReason(err)}`;
  }
  unlinkSync(probe);
  return undefined;
}

/** Whole positive number flag. */
export function positiveInt(flag: string, value: string | undefined): number | undefined {
  return wholeNumber(flag, value, 1, Number.MAX_SAFE_INTEGER, "a whole number greater than 0");
}

/** A whole number from `min` to `max`, so the error names the flag and its unit rather than the stage's request field. */
export function wholeNumberIn(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  return wholeNumber(flag, value, min, max, `a whole number from ${min} to ${max}`);
}

function wholeNumber(flag: string, value: string | undefined, min: number, max: number, expected: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) throw new CommandLineError(`--${flag} ${value}: expected ${expected}`);
  return n;
}

/** An input the user named that the stages, run as another uid under root, could not read: refused here, naming the file. */
export function stageMustRead(flag: string, value: string, path: string, reading?: TreeReading): void {
  const problem = stageReadProblem(path, value, reading);
  if (problem) throw new CommandError(`--${flag} ${value}: ${problem}`);
}
