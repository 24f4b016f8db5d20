// The arguments of `bencher-run pipeline`, parsed here rather than by citty
// because `--entrypoint` and `--cmd` take the rest of the argument vector,
// as the arguments after the image do in `docker run`:
//   --entrypoint /bin/sh -c 'echo hi'      entrypoint ["/bin/sh", "-c", "echo hi"]
//   --entrypoint /bin/echo --cmd a b       entrypoint ["/bin/echo"], cmd ["a", "b"]
//   --cmd ls -l /   (or: -- ls -l /)       cmd ["ls", "-l", "/"]
// So every other option comes before them.
import type { PipelineOptions, RootfsKind } from "./options.js";
import type { PipelineOptionError } from "./errors.js";
import { join } from "node:path";
import { parseHostCpuList } from "../../lib/cpu-affinity/pinning.js";
import { isEnvRemoval } from "../../lib/guest-protocol/resolve-command.js";
import { SQUASHFS_DISK_SIZE } from "../../stages/mkrootfs/request.js";

export class UsageError extends Error {
  override name = "UsageError";
}

export interface PipelineCliArgs {
  options: PipelineOptions;
  json: boolean;
  verbose: boolean;
  /** Run the command this many times, each in a fresh VM. */
  iter: number;
  /** What was typed after each flag that takes one value: errors quote it. */
  typed: Record<string, string>;
}

/** Options taking a value: flag → how it is stored. Short forms as in docker run. */
const VALUE_FLAGS: Record<string, string> = {
  "--image": "image", "--timeout": "timeout", "--boot-timeout": "boot-timeout", "--vcpus": "vcpus", "--memory": "memory",
  "--disk": "disk", "--env": "env", "-e": "env", "--workdir": "workdir", "-w": "workdir", "--user": "user", "-u": "user",
  "--output": "output", "--output-dir": "output-dir", "--max-output-size": "max-output-size", "--kernel": "kernel",
  "--iter": "iter", "--rootfs": "rootfs", "--work-root": "work-root", "--cpus": "cpus", "--registry-ca": "registry-ca",
  "--authfile": "authfile",
};
const BOOLEAN_FLAGS: Record<string, string> = {
  "--json": "json", "--keep": "keep", "--verbose": "verbose", "--plain-http": "plain-http", "--no-plain-http": "no-plain-http",
  "--quiet-cpus": "quiet-cpus",
};
const REPEATABLE = new Set(["env", "output"]);
/** PipelineOptions names → the flag that sets them, so that the API's checks speak of flags here. */
const OPTION_FLAGS: Record<string, string> = {
  image: "--image", timeoutSec: "--timeout", bootTimeoutSec: "--boot-timeout", vcpus: "--vcpus", cpus: "--cpus",
  quietCpus: "--quiet-cpus", memoryMiB: "--memory", diskMiB: "--disk", env: "--env", workdir: "--workdir", user: "--user",
  outputs: "--output", outputDir: "--output-dir", maxOutputSize: "--max-output-size", kernel: "--kernel",
  registryCa: "--registry-ca", plainHttp: "--plain-http", authFile: "--authfile", rootfs: "--rootfs", workRoot: "--work-root",
  entrypoint: "--entrypoint", cmd: "--cmd",
};

/** Whether pipeline's option `flag` ("--memory", "-e") takes a value (the next argument, without =). */
export function pipelineFlagTakesValue(flag: string): boolean {
  return Object.hasOwn(VALUE_FLAGS, flag);
}

/** Whether `arg` ends pipeline's options: what follows is the command (--entrypoint ARG..., --cmd ARG...). */
export function startsPipelineCommand(arg: string): boolean {
  return arg === "--entrypoint" || arg === "--cmd";
}

/** The options of run `run` (from 1) of `cli.iter`: with more than one, each run's files go to <output-dir>/run-<run>/. */
export function optionsForRun(cli: PipelineCliArgs, run: number): PipelineOptions {
  const { outputDir } = cli.options;
  if (cli.iter <= 1 || outputDir === undefined) return cli.options;
  return { ...cli.options, outputDir: join(outputDir, `run-${run}`) };
}

/** An option error from runPipeline in the command line's words: "--memory 10: ..." rather than "memoryMiB 10: ...". */
export function describeOptionError(err: PipelineOptionError, typed: Record<string, string>): string {
  const flag = OPTION_FLAGS[err.option];
  if (flag === undefined) return err.message;
  const value = typed[flag] ?? err.value;
  return `${flag}${value === undefined ? "" : ` ${value === "" ? '""' : value}`}: ${err.problem}`;
}

/** A whole number from min up; `what` names the flag in the error. */
function whole(flag: string, value: string, min: number): number {
  // Not a number at all: no bound to name (the pipeline's own check names the full range of one that is).
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`${flag} ${value}: expected a whole number`);
  if (Number(value) < min) throw new UsageError(`${flag} ${value}: expected a whole number of at least ${min}`);
  return Number(value);
}

/** Sizes like 1048576, 512K, 10M, 1G (powers of 1024). */
export function parseSize(flag: string, value: string): number {
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(value);
  if (!m) throw new UsageError(`${flag} ${value}: expected a size in bytes (suffixes K, M, G allowed)`);
  const unit = (m[2] ?? "").charAt(0).toUpperCase();
  const bytes = Number(m[1]) * (unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1);
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`${flag} ${value}: too large`);
  return bytes;
}

export function parsePipelineArgs(argv: readonly string[]): PipelineCliArgs {
  const values = new Map<string, string[]>();
  const typed: Record<string, string> = {};
  const flags = new Set<string>();
  let entrypoint: string[] | undefined;
  let cmd: string[] | undefined;

  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (startsPipelineCommand(arg) || arg === "--") break;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === "--entrypoint" || flag === "--cmd") throw new UsageError(`${flag} takes the rest of the arguments: write ${flag} ARG... (without =) after the other options`);
    if (BOOLEAN_FLAGS[flag]) {
      if (eq > 0) throw new UsageError(`${flag} takes no value`);
      flags.add(BOOLEAN_FLAGS[flag]);
      continue;
    }
    const name = VALUE_FLAGS[flag];
    if (!name) throw new UsageError(arg.startsWith("-") ? `unknown option ${flag}` : `unexpected argument ${JSON.stringify(arg)} (the command goes after --cmd or --)`);
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`);
      value = argv[++i]!;
    }
    const list = values.get(name) ?? [];
    if (list.length > 0 && !REPEATABLE.has(name)) throw new UsageError(`${flag} given twice`);
    list.push(value);
    values.set(name, list);
    if (!REPEATABLE.has(name)) typed[`--${name}`] = value;
  }
  if (i < argv.length) {
    const rest = argv.slice(i + 1);
    if (argv[i] === "--entrypoint") {
      const at = rest.indexOf("--cmd");
      entrypoint = at < 0 ? rest : rest.slice(0, at);
      if (at >= 0) cmd = rest.slice(at + 1);
      if (entrypoint.length === 0) throw new UsageError("--entrypoint needs at least the program to run");
      // `--entrypoint ''` clears the image's ENTRYPOINT, as in docker run: --cmd's arguments are the whole command.
      if (entrypoint.length === 1 && entrypoint[0] === "") entrypoint = [];
    } else {
      cmd = rest;
    }
  }

  const one = (name: string) => values.get(name)?.[0];
  const image = one("image");
  if (image === undefined || image === "") throw new UsageError("--image is required (an OCI layout, archive or registry reference)");
  const options: PipelineOptions = { image };
  const timeout = one("timeout");
  if (timeout !== undefined) options.timeoutSec = whole("--timeout", timeout, 1);
  const bootTimeout = one("boot-timeout");
  if (bootTimeout !== undefined) options.bootTimeoutSec = whole("--boot-timeout", bootTimeout, 1);
  const vcpus = one("vcpus");
  if (vcpus !== undefined) options.vcpus = whole("--vcpus", vcpus, 1);
  const cpus = one("cpus");
  if (cpus !== undefined) {
    try {
      options.cpus = parseHostCpuList(cpus);
    } catch (err) {
      throw new UsageError(`--cpus ${cpus}: ${(err as Error).message}`);
    }
  }
  const memory = one("memory");
  if (memory !== undefined) options.memoryMiB = whole("--memory", memory, 1);
  const disk = one("disk");
  if (disk !== undefined) options.diskMiB = whole("--disk", disk, 1);
  const env = values.get("env");
  if (env) options.env = env.map(envOverride);
  const workdir = one("workdir");
  if (workdir !== undefined) {
    if (!workdir.startsWith("/")) throw new UsageError(`--workdir ${workdir}: expected an absolute path in the guest`);
    options.workdir = workdir;
  }
  const user = one("user");
  if (user !== undefined) options.user = user;
  const outputs = values.get("output");
  if (outputs) {
    outputs.forEach((path) => {
      if (!path.startsWith("/")) throw new UsageError(`--output ${path}: expected an absolute path in the guest`);
    });
    options.outputs = outputs;
  }
  const outputDir = one("output-dir");
  if (outputDir !== undefined) options.outputDir = outputDir;
  if (outputDir !== undefined && !outputs) throw new UsageError("--output-dir needs at least one --output");
  const maxOutput = one("max-output-size");
  if (maxOutput !== undefined) options.maxOutputSize = parseSize("--max-output-size", maxOutput);
  const kernel = one("kernel");
  if (kernel !== undefined) options.kernel = kernel;
  const registryCa = one("registry-ca");
  if (registryCa !== undefined) options.registryCa = registryCa;
  const authFile = one("authfile");
  if (authFile !== undefined) options.authFile = authFile;
  if (flags.has("plain-http") && flags.has("no-plain-http")) throw new UsageError("--plain-http and --no-plain-http contradict each other");
  if (flags.has("plain-http")) options.plainHttp = true;
  if (flags.has("no-plain-http")) options.plainHttp = false;
  const rootfs = one("rootfs");
  if (rootfs !== undefined) {
    if (rootfs !== "ext4" && rootfs !== "squashfs") throw new UsageError(`--rootfs ${rootfs}: expected ext4 or squashfs`);
    options.rootfs = rootfs as RootfsKind;
    if (rootfs === "squashfs" && disk !== undefined) throw new UsageError(`--disk ${SQUASHFS_DISK_SIZE}`);
  }
  const workRoot = one("work-root");
  if (workRoot !== undefined) options.workRoot = workRoot;
  if (flags.has("keep")) options.keep = true;
  if (flags.has("quiet-cpus")) options.quietCpus = true;
  if (entrypoint) options.entrypoint = entrypoint;
  if (cmd && cmd.length > 0) options.cmd = cmd;
  const iterText = one("iter");
  const iter = iterText === undefined ? 1 : whole("--iter", iterText, 1);
  return { options, json: flags.has("json"), verbose: flags.has("verbose"), iter, typed };
}

/**
 * `--env NAME=VALUE` as given; `--env NAME` takes our own NAME's value, or,
 * when we have none, removes NAME from the image's env (docker run -e NAME).
 */
function envOverride(entry: string): string {
  if (entry.indexOf("=") > 0) return entry;
  if (!isEnvRemoval(entry)) throw new UsageError(`--env ${entry}: expected KEY=VALUE or KEY`);
  const value = process.env[entry];
  return value === undefined ? entry : `${entry}=${value}`;
}
