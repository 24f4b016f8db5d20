// The socket directory boot and collect share (boot's vsock sockets beside
// the one collect listens on): made by whichever command starts first,
// claimed by each while it runs, removed by whichever ends last, and never
// one of the user's.
import { closeSync, existsSync, lstatSync, openSync, readdirSync, realpathSync, rmdirSync, rmSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { CommandError } from "./command-error.js";
import { inputPath, makeStageDirectory } from "./paths.js";
import { giveToStage } from "../../lib/sandbox/stage-identity.js";

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
