// What a caller may ask of one pipeline run, and the checks that turn it into
// the settings the stages get. Everything refused here is refused before any
// stage starts or any directory is made.
import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { isNestedPvmHost } from "../../kernel/cmdline.js";
import { hostNamesForOutputs } from "../../stages/collect/output-names.js";
import { DEFAULT_MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES_LIMIT } from "../../stages/collect/request.js";
import { MAX_DISK_MIB, SQUASHFS_DISK_SIZE } from "../../stages/mkrootfs/request.js";
import { PipelineOptionError } from "./errors.js";
import { cpusProblem, hostCpus } from "../../lib/cpu-affinity/pinning.js";
import { isEnvRemoval } from "../../lib/guest-protocol/resolve-command.js";
import { availableHostMiB, memoryProblem } from "../../stages/boot/host-memory.js";

export type RootfsKind = "ext4" | "squashfs";
export type PipelinePhase = "prepare" | "boot" | "run" | "collect";

export interface PipelineOptions {
  /** OCI layout dir, OCI/docker archive (optionally `oci:`, `oci-archive:`, `docker-archive:`), `DIR:REF`, or a registry reference. */
  image: string;
  /** The command's time limit in seconds, counted from its start in the guest (boot does not count). */
  timeoutSec?: number;
  /** How long the guest may take to boot and start the command (default 300 s). */
  bootTimeoutSec?: number;
  vcpus?: number;
  /** Host CPUs for the vCPU threads (vCPU i on cpus[i % n]); the VMM's other threads keep off them when CPUs are left over. */
  cpus?: number[];
  /**
   * vCPU 0 keeps the guest kernel's housekeeping (timer tick, RCU, device
   * interrupts); the command runs on vCPUs 1..n-1, which have no timer tick
   * while it runs. Needs vcpus >= 2; the command sees vcpus - 1 CPUs.
   */
  quietCpus?: boolean;
  memoryMiB?: number;
  /** ext4 disk size in MiB (default: the content plus headroom). */
  diskMiB?: number;
  /** NAME=value entries over the image's env (`docker run -e`); a bare NAME removes that variable. */
  env?: string[];
  /** Replaces the image's ENTRYPOINT (and drops its CMD), as `docker run --entrypoint`. */
  entrypoint?: string[];
  /** Replaces the image's CMD (the arguments after the image in `docker run`). */
  cmd?: string[];
  /** Absolute working directory in the guest. */
  workdir?: string;
  /** `docker run --user`. */
  user?: string;
  /** Absolute guest paths of files to bring back. */
  outputs?: string[];
  /** Where the output files are saved (created if missing); without it they come back in memory only. */
  outputDir?: string;
  /** Bytes kept per stream (stdout, stderr) and per output file; the rest is dropped and reported as truncated. */
  maxOutputSize?: number;
  /** vmlinux or bzImage (default: the built guest kernel). */
  kernel?: string;
  /** PEM file of CA certificates trusted for the registry's HTTPS, besides the usual ones. */
  registryCa?: string;
  /** true: plain HTTP to the registry; false: HTTPS even on loopback; unset: HTTPS except to a loopback registry. */
  plainHttp?: boolean;
  /** Registry credentials: an auth file as `docker login` or `podman login` writes it (default: lib/oci/auth-file.ts's search). */
  authFile?: string;
  /** Keep the run directory (console log, overlay, unpacked image) for debugging. */
  keep?: boolean;
  rootfs?: RootfsKind;
  /** Parent of run directories (default: $BENCHER_RUN_WORKDIR or the cache's runs/). */
  workRoot?: string;
  /** Cancels the run: stages are stopped, the VM too, the run directory removed. */
  signal?: AbortSignal;
  onStdout?(chunk: Buffer): void;
  onStderr?(chunk: Buffer): void;
  onProgress?(message: string): void;
  /** Each step of the run: "prepare" (image → root image), "boot", "run" (the command started), "collect" (it exited). */
  onPhase?(phase: PipelinePhase): void;
  /** The stages' warnings (and info lines when verbose). */
  onLog?(stage: string, level: "debug" | "info" | "warn", message: string): void;
}

/** The options after checking, with defaults filled in. */
export interface CheckedOptions {
  image: string;
  timeoutMs: number | undefined;
  bootTimeoutMs: number;
  vcpus: number;
  cpus: number[] | undefined;
  quietCpus: boolean;
  memoryMiB: number;
  diskMiB: number | undefined;
  env: string[];
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  workdir: string | undefined;
  user: string | undefined;
  outputs: string[];
  outputDir: string | undefined;
  maxOutputBytes: number;
  kernel: string | undefined;
  registry: { ca: string | undefined; plainHttp: boolean | undefined; authFile: string | undefined };
  keep: boolean;
  rootfs: RootfsKind;
  workRoot: string | undefined;
}

export { MAX_MEMORY_MIB, MAX_VCPUS } from "../../stages/boot/limits.js";
import { MAX_MEMORY_MIB, MAX_VCPUS } from "../../stages/boot/limits.js";
export const DEFAULT_VCPUS = 1;
export const DEFAULT_MEMORY_MIB = 256;
export const DEFAULT_BOOT_TIMEOUT_SEC = 300;
/** On a nested PVM host the guest kernel is emulated: boots take minutes, several at once far longer. */
export const PVM_HOST_BOOT_TIMEOUT_SEC = 1200;

export function defaultBootTimeoutSec(): number {
  return isNestedPvmHost() ? PVM_HOST_BOOT_TIMEOUT_SEC : DEFAULT_BOOT_TIMEOUT_SEC;
}
/** Longest command time limit accepted (the VM's own deadline is capped at a day). */
export const MAX_TIMEOUT_SEC = 20 * 3600;

type OptionName = Exclude<keyof PipelineOptions, `on${string}` | "signal">;

function refuse(option: OptionName, value: string | undefined, problem: string): never {
  throw new PipelineOptionError(option, value, problem);
}

function wholeNumber(option: OptionName, value: number | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    refuse(option, String(value), `expected a whole number from ${min} to ${max}`);
  }
  return value;
}

function stringList(option: OptionName, value: string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) refuse(option, undefined, "expected a list of strings");
  value.forEach((v) => {
    if (v.includes("\0")) refuse(option, JSON.stringify(v), "contains a NUL character");
  });
  return value;
}

/** Why `path` is not a file we can read, or undefined. */
function fileProblem(path: string): string | undefined {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st === undefined) return "no such file";
  if (!st.isFile()) return st.isDirectory() ? "is a directory, not a file" : "is not a regular file";
  return undefined;
}

/** Distinct CPU numbers this process may use (the boot stage inherits its CPUs). */
function hostCpuList(value: number[] | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const shown = Array.isArray(value) && value.length > 0 ? value.join(",") : JSON.stringify(value);
  if (!Array.isArray(value) || value.some((c) => typeof c !== "number" || !Number.isSafeInteger(c) || c < 0)) {
    refuse("cpus", shown, "expected a list of host CPU numbers");
  }
  if (new Set(value).size !== value.length) refuse("cpus", shown, "a CPU is listed twice");
  const problem = cpusProblem(value, hostCpus());
  if (problem) refuse("cpus", shown, problem);
  return value;
}

export function checkOptions(o: PipelineOptions): CheckedOptions {
  if (typeof o.image !== "string" || o.image.trim() === "") refuse("image", undefined, "missing (an OCI layout, archive or registry reference)");
  const env = stringList("env", o.env) ?? [];
  env.forEach((entry) => {
    if (entry.indexOf("=") <= 0 && !isEnvRemoval(entry)) refuse("env", JSON.stringify(entry), "expected NAME=value, or NAME to remove it");
  });
  const outputs = stringList("outputs", o.outputs) ?? [];
  try {
    hostNamesForOutputs(outputs);
  } catch (err) {
    refuse("outputs", undefined, (err as Error).message);
  }
  if (o.workdir !== undefined && (typeof o.workdir !== "string" || !o.workdir.startsWith("/") || o.workdir.includes("\0"))) {
    refuse("workdir", JSON.stringify(o.workdir), "expected an absolute path in the guest");
  }
  const rootfs = o.rootfs ?? "ext4";
  if (rootfs !== "ext4" && rootfs !== "squashfs") refuse("rootfs", JSON.stringify(rootfs), "expected ext4 or squashfs");
  const diskMiB = wholeNumber("diskMiB", o.diskMiB, 1, MAX_DISK_MIB);
  if (diskMiB !== undefined && rootfs === "squashfs") refuse("diskMiB", undefined, SQUASHFS_DISK_SIZE);
  let kernel: string | undefined;
  if (o.kernel !== undefined) {
    kernel = resolve(o.kernel);
    const problem = fileProblem(kernel);
    if (problem) refuse("kernel", o.kernel, problem);
  }
  let registryCa: string | undefined;
  if (o.registryCa !== undefined) {
    registryCa = resolve(o.registryCa);
    const problem = fileProblem(registryCa);
    if (problem) refuse("registryCa", o.registryCa, problem);
  }
  let authFile: string | undefined;
  if (o.authFile !== undefined) {
    authFile = resolve(o.authFile);
    const problem = fileProblem(authFile);
    if (problem) refuse("authFile", o.authFile, problem);
  }
  if (o.plainHttp !== undefined && typeof o.plainHttp !== "boolean") refuse("plainHttp", undefined, "expected true or false");
  if (o.plainHttp === true && registryCa !== undefined) refuse("registryCa", undefined, "a CA is for HTTPS, but plain HTTP was asked for");
  // Made (or refused, a file in the way included) by the run itself, before any stage starts.
  if (o.outputDir !== undefined && (typeof o.outputDir !== "string" || o.outputDir === "")) refuse("outputDir", undefined, "expected a directory (an empty path would mean the current one)");
  const outputDir = o.outputDir === undefined ? undefined : resolve(o.outputDir);
  const cpus = hostCpuList(o.cpus);
  const vcpus = wholeNumber("vcpus", o.vcpus, 1, MAX_VCPUS) ?? DEFAULT_VCPUS;
  if (o.quietCpus !== undefined && typeof o.quietCpus !== "boolean") refuse("quietCpus", undefined, "expected true or false");
  if (o.quietCpus && vcpus < 2) refuse("quietCpus", undefined, `needs 2 or more vCPUs (vCPU 0 keeps the guest kernel's housekeeping), not ${vcpus}`);
  const timeoutSec = wholeNumber("timeoutSec", o.timeoutSec, 1, MAX_TIMEOUT_SEC);
  const bootTimeoutSec = wholeNumber("bootTimeoutSec", o.bootTimeoutSec, 1, 3600) ?? defaultBootTimeoutSec();
  const memoryMiB = wholeNumber("memoryMiB", o.memoryMiB, 64, MAX_MEMORY_MIB) ?? DEFAULT_MEMORY_MIB;
  // Refused here, before an image is fetched and built, rather than by the VMM at the end of the preparation.
  const unbacked = memoryProblem(memoryMiB, availableHostMiB());
  if (unbacked) refuse("memoryMiB", String(memoryMiB), unbacked);
  return {
    image: o.image,
    timeoutMs: timeoutSec === undefined ? undefined : timeoutSec * 1000,
    bootTimeoutMs: bootTimeoutSec * 1000,
    vcpus,
    cpus,
    quietCpus: o.quietCpus ?? false,
    memoryMiB,
    diskMiB,
    env,
    entrypoint: stringList("entrypoint", o.entrypoint),
    cmd: stringList("cmd", o.cmd),
    workdir: o.workdir,
    user: o.user,
    outputs,
    outputDir,
    maxOutputBytes: wholeNumber("maxOutputSize", o.maxOutputSize, 0, MAX_OUTPUT_BYTES_LIMIT) ?? DEFAULT_MAX_OUTPUT_BYTES,
    kernel,
    registry: { ca: registryCa, plainHttp: o.plainHttp, authFile },
    keep: o.keep ?? false,
    rootfs,
    workRoot: o.workRoot === undefined ? undefined : isAbsolute(o.workRoot) ? o.workRoot : resolve(o.workRoot),
  };
}
