// Paths named on the command line, made absolute and checked, since stages
// run with / as their working directory and see only what is bound in.
import { chownSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, realpathSync, rmdirSync, rmSync, statSync, unlinkSync } from "node:fs";
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
function makeStageDirectory(abs: string, refuse: (why: string) => CommandError): string {
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
 * Marks a socket directory a stage command made, so that whichever of boot
 * and collect ends last removes it, whichever made it: the first to end
 * finds the other's socket still there.
 */
const MADE_FOR_SOCKETS = ".made-by-bencher-run";
/**
 * Each command using a marked directory holds a claim in it while it runs
 * (".in-use-by-bencher-run-<pid>-<n>"): a command that ends before the other
 * has listened (boot failing at once) must not remove the directory the other
 * is about to put its socket in. A killed command's claim is stale once its
 * process is gone.
 */
const CLAIM_PREFIX = ".in-use-by-bencher-run-";
let claims = 0;

/** A Unix socket a stage will make, and the directory it goes in. */
export interface SocketPath {
  path: string;
  /** Its real path; shared by the stages (boot's vsock sockets beside the one collect listens on). */
  dir: string;
  /** Made by this command or the other stage's (marked): removed when nothing else is left in it. */
  created: boolean;
  /** This command's claim on a marked directory. */
  claim?: string;
}

/**
 * The socket must not exist. Its directory is made if missing; an existing
 * one may hold nothing but sockets (it is bound writable into the stage:
 * nothing else of the user's belongs there), and is given to the stages' uid.
 */
export function socketPath(flag: string, value: string): SocketPath {
  const abs = resolve(value);
  if (existsSync(abs)) throw new CommandError(`--${flag} ${value}: already exists`);
  const parent = dirname(abs);
  if (!existsSync(parent)) {
    if (!existsSync(dirname(parent))) throw new CommandError(`--${flag} ${value}: ${dirname(parent)} does not exist`);
    try {
      const dir = makeStageDirectory(parent, (why) => new CommandError(`--${flag} ${value}: cannot create its directory ${parent}: ${why}`));
      const claim = claimDirectory(dir);
      closeSync(openSync(join(dir, MADE_FOR_SOCKETS), "wx", 0o444));
      return { path: join(dir, basename(abs)), dir, created: true, claim };
    } catch (err) {
      // Made meanwhile by the other stage's command, started beside this one: use it as it is.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  if (!statSync(parent).isDirectory()) throw new CommandError(`--${flag} ${value}: ${parent} is not a directory`);
  const dir = realpathSync(parent);
  if (holdsOtherThanSockets(dir)) {
    throw new CommandError(`--${flag} ${value}: ${parent} holds files other than sockets (name a new directory, or the one the other stage's socket is in)`);
  }
  giveToStage(dir);
  if (!existsSync(join(dir, MADE_FOR_SOCKETS))) return { path: join(dir, basename(abs)), dir, created: false };
  let claim: string;
  try {
    claim = claimDirectory(dir);
  } catch (err) {
    // Removed meanwhile by the other stage's command, ending: start again (and make it).
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return socketPath(flag, value);
    throw err;
  }
  return { path: join(dir, basename(abs)), dir, created: true, claim };
}

function claimDirectory(dir: string): string {
  const claim = join(dir, `${CLAIM_PREFIX}${process.pid}-${++claims}`);
  closeSync(openSync(claim, "wx", 0o444));
  return claim;
}

/** Whether a claim's command is still running. */
function claimIsLive(name: string): boolean {
  const pid = Number.parseInt(name.slice(CLAIM_PREFIX.length), 10);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * After the command, whether it succeeded or not: its own socket and claim go
 * (a stage that failed may leave the socket), and a directory a stage command
 * made goes once nothing else is in it. The other stage's command, still
 * running, keeps its claim (and soon its socket) there; the directory is then
 * removed when that one ends.
 */
export function removeSocketAndDir(sockets: SocketPath): void {
  try {
    if (lstatSync(sockets.path).isSocket()) unlinkSync(sockets.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (!sockets.created) return;
  if (sockets.claim) rmSync(sockets.claim, { force: true });
  const marker = join(sockets.dir, MADE_FOR_SOCKETS);
  try {
    const others = readdirSync(sockets.dir).filter((name) => name !== MADE_FOR_SOCKETS);
    if (others.some((name) => !name.startsWith(CLAIM_PREFIX) || claimIsLive(name))) return;
    for (const stale of others) rmSync(join(sockets.dir, stale), { force: true });
    unlinkSync(marker);
    try {
      rmdirSync(sockets.dir);
    } catch (err) {
      // Claimed in the instant between: the mark goes back, for that command to remove the directory.
      if ((err as NodeJS.ErrnoException).code === "ENOTEMPTY") closeSync(openSync(marker, "w", 0o444));
      throw err;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOENT: the other command, ending at the same moment, removed them first.
    if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOENT") throw err;
  }
}

/**
 * A path a stage waits for (boot --wait-for). Its directory must exist and is
 * bound into the stage, so it may hold nothing but sockets and the path itself
 * (a new directory, or the --vsock one): never a shared one like /tmp.
 */
export function waitedPath(flag: string, value: string): { path: string; dir: string } {
  const abs = resolve(value);
  const dir = inputPath(flag, dirname(abs), "dir");
  const name = basename(abs);
  if (holdsOtherThanSockets(dir, name)) {
    throw new CommandError(`--${flag} ${value}: ${dirname(abs)} holds other files, which the stage would see (name a path in a new directory, or in the one the sockets are in)`);
  }
  return { path: join(dir, name), dir };
}

/** Whether `dir` holds anything but Unix sockets (and `except`): a directory shown to a stage must not. */
function holdsOtherThanSockets(dir: string, except?: string): boolean {
  return readdirSync(dir).some((name) => {
    if (name === except || name === MADE_FOR_SOCKETS || name.startsWith(CLAIM_PREFIX)) return false;
    try {
      return !lstatSync(join(dir, name)).isSocket();
    } catch {
      return false; // gone meanwhile (the other stage's socket, removed as it ended)
    }
  });
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
