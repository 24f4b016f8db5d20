// Starts a program in a stage sandbox:
//   setpriv --pdeathsig KILL          the sandbox dies with the coordinator
//   unshare [--user --map-root-user] --pid --fork --kill-child
//                                     a PID namespace whose end the coordinator
//                                     can wait for: unshare returns only once
//                                     every process in it is gone
//   bwrap --unshare-pid [--unshare-net] <bwrap-args.ts>
//                                     PID 1 there; a new mount namespace holding
//                                     only the stage's root, and the stage's own
//                                     PID namespace, whose init (bwrap's) reaps
//   [setpriv --reuid=65534 ...]       under a root runner: leave host root
//   unshare --user --map-root-user --mount
//                                     a user namespace owning a copy of that
//                                     mount tree: every mount bwrap made is
//                                     now locked and cannot be undone
//   setpriv --no-new-privs --bounding-set=-all --inh-caps=-all
//                                     no capabilities left, even in the namespace
//   <command>                         PID 2 of its PID namespace
// The process group is the sandbox: signals go to the group. SIGTERM reaches
// the stage; unshare ignores it and the two bwraps, each the init of a PID
// namespace, cannot get it from outside. SIGKILL ends everything.
// bubblewrap builds the root with system calls in one process: the shell
// script of mount commands it replaced took ~25 processes and ~35 ms per stage
// start here, this chain ~12 ms with the same binds.
// Spawned with node:child_process, not execa: nothing here needs execa's
// buffering or errors, and importing it costs ~100 ms on these machines,
// paid by every command that starts a stage.
import { spawn, type StdioOptions } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { cacheRoot } from "../paths.js";
import type { StageChild } from "../ipc/call.js";
import { mkfsToolPaths } from "./blocked-tools.js";
import { KVM_FD_ENV } from "./kvm-fd.js";
import { closeInheritedOnExec } from "../native/cloexec.js";
import { planMounts } from "./mount-plan.js";
import { bwrapRootArgs } from "./bwrap-args.js";
import { unprivilegedStageIds } from "./stage-identity.js";
import { registerCleanup } from "../workdir/interrupts.js";

export interface SandboxSpec {
  /** Used in errors. */
  stage: string;
  /** Program and arguments, as seen inside the sandbox (host paths under the project's dist or node_modules, or /usr, work). */
  command: string[];
  /** Host paths the stage may read, bound at the same path. */
  readOnly?: string[];
  /** Host paths the stage may write, bound at the same path (under a root runner they must belong to the stage uid: giveToStage()). */
  writable?: string[];
  /** Whether mkfs.ext4/mke2fs (and libext2fs) stay usable: only the mkrootfs stage. */
  allowMkfs?: boolean;
  /** An open /dev/kvm descriptor handed to the stage as fd 3 (named in $BENCHER_RUN_KVM_FD): only the boot stage. */
  kvmFd?: number;
  /** Share the host network; default false: a network namespace with only a loopback that is down. */
  network?: boolean;
  /** Extra environment for the stage (the host environment is not passed on). */
  env?: Record<string, string>;
}

/** A running sandboxed stage: a StageChild for callStage, plus its end. */
export interface SandboxedStage extends StageChild {
  readonly pid: number;
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Resolves when the whole sandbox has exited. */
  readonly exited: Promise<void>;
}

const KVM_CHILD_FD = 3;
const STAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** bubblewrap's path on the coordinator's PATH; a one-line error if it is not installed. */
export function bwrapPath(searchPath = process.env.PATH ?? STAGE_PATH): string {
  for (const dir of searchPath.split(":")) {
    if (!dir.startsWith("/")) continue;
    const candidate = join(dir, "bwrap");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error("sandbox: bwrap not found on PATH (Debian package bubblewrap; ./setup installs it)");
}

/** The argv (program first) that runs spec.command in its sandbox. */
export function sandboxArgv(spec: SandboxSpec, bwrap = bwrapPath()): string[] {
  const asRoot = process.getuid?.() === 0;
  const plan = planMounts({
    readOnly: spec.readOnly ?? [],
    writable: spec.writable ?? [],
    masked: spec.allowMkfs ? [] : mkfsToolPaths(),
    network: spec.network,
  });
  const ids = asRoot ? unprivilegedStageIds() : null;
  return [
    "setpriv", "--pdeathsig", "KILL", "--",
    "unshare", ...(asRoot ? [] : ["--user", "--map-root-user"]), "--pid", "--fork", "--kill-child", "--",
    bwrap, "--unshare-pid", ...(spec.network ? [] : ["--unshare-net"]),
    ...bwrapRootArgs(plan), "--",
    ...(ids ? ["setpriv", `--reuid=${ids.uid}`, `--regid=${ids.gid}`, "--clear-groups", "--"] : []),
    "unshare", "--user", "--map-root-user", "--mount", "--",
    "setpriv", "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--",
    ...spec.command,
  ];
}

export function startSandboxedStage(spec: SandboxSpec): SandboxedStage {
  if (spec.command.length === 0) throw new Error(`${spec.stage}: empty sandbox command`);
  if (process.getuid?.() === 0) {
    // The stage is an unprivileged uid on the host: it can write only what was given to it.
    const { uid } = unprivilegedStageIds();
    for (const path of spec.writable ?? []) {
      if (statSync(path).uid !== uid) throw new Error(`${spec.stage}: writable path ${path} is not owned by the stage uid ${uid} (giveToStage() the directories made for it)`);
    }
  }
  const [program, ...args] = sandboxArgv(spec);
  // The host environment stays out; the cache root is passed so the stage's cacheRoot() is the coordinator's.
  const env: Record<string, string> = { PATH: STAGE_PATH, HOME: "/tmp", LANG: "C.UTF-8", BENCHER_RUN_CACHE: cacheRoot(), ...spec.env };
  if (spec.kvmFd !== undefined) env[KVM_FD_ENV] = String(KVM_CHILD_FD);

  // Only what stdio names may reach the stage: every other descriptor of this
  // process (inherited, or opened by an embedder without O_CLOEXEC) is marked
  // close-on-exec. The /dev/kvm descriptor still arrives: spawn dup2()s it to
  // fd 3 in the child, which clears the flag there.
  closeInheritedOnExec();
  const subprocess = spawn(program, args, {
    stdio: ["pipe", "pipe", "pipe", ...(spec.kvmFd !== undefined ? [spec.kvmFd] : [])] as StdioOptions,
    env,
    detached: true, // its own process group: the sandbox can be signalled as a whole
  });
  // Seen as an undefined pid below (a spawn that failed) or as the exit that follows.
  subprocess.on("error", () => {});
  const pid = subprocess.pid;
  if (pid === undefined) throw new Error(`${spec.stage}: could not start the sandbox (setpriv/unshare missing?)`);
  // If the coordinator exits (or is forced out by a second Ctrl-C) without waiting, the sandbox goes too.
  const unregister = registerCleanup(() => killGroup(pid, "SIGKILL"));
  // "close": the process has exited and its pipes are closed (no one in the group holds them).
  const exited = new Promise<void>((resolve) => subprocess.once("close", () => resolve())).finally(unregister);

  return {
    pid,
    stdin: subprocess.stdin!,
    stdout: subprocess.stdout!,
    stderr: subprocess.stderr!,
    get exitCode() { return subprocess.exitCode; },
    get signalCode() { return subprocess.signalCode; },
    kill(signal: NodeJS.Signals | number = "SIGTERM") {
      // Once reaped, the pid (and group id) may belong to someone else: never signal it then.
      if (subprocess.exitCode !== null || subprocess.signalCode !== null) return false;
      return killGroup(pid, signal);
    },
    once(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void) {
      subprocess.once(event, listener);
      return this;
    },
    exited,
  };
}

function killGroup(pid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
