// The collect stage's request: where to listen for the guest, the job to
// send it, the deadlines, and where output files go. Checked field by field:
// a bad request is a one-line error naming the field.
import { RUN_KEY_BYTES } from "../../lib/guest-protocol/messages.js";
import type { GuestJob, RootfsType } from "../../lib/guest-protocol/job.js";
import { hostNamesForOutputs } from "./output-names.js";
import { requestFields, type Fail } from "../../lib/ipc/request-fields.js";

const fields = requestFields("collect request");
const fail: Fail = fields.fail;
const { absolutePath, wholeNumber } = fields;

/** The job as the coordinator hands it over: guest-init's job without the key (passed separately as keyHex), limits as plain numbers. */
export type CollectJob = Omit<GuestJob, "key" | "maxOutputBytes" | "maxFileBytes"> & {
  /** Bytes kept per stream (stdout, stderr): the guest drops the rest, and so does the host. */
  maxOutputBytes: number;
  /** Bytes kept per output file. */
  maxFileBytes: number;
};

export interface CollectRequest {
  /** The Unix socket to create and listen on: `<vsock uds>_<port>`, the port being `bencher.port=` on the kernel command line. */
  socketPath: string;
  /** The serial console log the VMM writes: read for the serial fallback and guest-init's diagnostics. */
  consoleLog?: string;
  job: CollectJob;
  /** The command's time limit, counted from STARTED (boot does not count). None: no limit. */
  timeoutMs?: number;
  /** From the start of collect until the command starts (READY and STARTED, or ERROR). */
  bootTimeoutMs: number;
  /** After EXIT (or ERROR): the longest silence from the guest before giving up on DONE. */
  stallTimeoutMs: number;
  /** Where requested output files are written (must exist). Without it they are kept in memory. */
  outputDir?: string;
  /** The run key as 64 hex digits; the coordinator makes it (newRunKey) and shows it to nothing but the job. */
  keyHex?: string;
}

/** The vsock port guest-init is told to connect to (`bencher.port=` on the kernel command line) unless the coordinator picks another. */
export const DEFAULT_VSOCK_PORT = 1024;

/** The Unix socket the VMM connects to when the guest connects to host port `port` (Firecracker's scheme). */
export function vsockSocketPath(udsBase: string, port: number): string {
  return `${udsBase}_${port}`;
}

/** Default for the bytes kept per stream and per file. */
export const DEFAULT_MAX_OUTPUT_BYTES = 1 << 30;
/**
 * The most bytes kept per stream and per file. Results are handed back in
 * memory (a Buffer each, files read back whole from the output directory):
 * Node reads no file of 2 GiB or more in one piece.
 */
export const MAX_OUTPUT_BYTES_LIMIT = 1 << 30;
export const DEFAULT_BOOT_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_STALL_TIMEOUT_MS = 60_000;
/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const DAY_MS = 24 * 3600 * 1000;
/** The longest a command may be given (timeoutMs), and the longest wait for it to start (bootTimeoutMs). */
export const MAX_TIMEOUT_MS = 366 * DAY_MS;
export const MAX_BOOT_TIMEOUT_MS = DAY_MS;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function onlyKnown(raw: Record<string, unknown>, known: string[], where: string): void {
  for (const key of Object.keys(raw)) if (!known.includes(key)) fail(`${where}${key}`, "is not a known field");
}

function strings(raw: Record<string, unknown>, field: string, fallback: string[] | undefined): string[] {
  const v = raw[field];
  if (v === undefined || v === null) {
    if (fallback === undefined) fail(field, "is missing");
    return fallback;
  }
  if (!Array.isArray(v)) fail(field, "must be an array of strings");
  v.forEach((item, i) => {
    if (typeof item !== "string") fail(`${field}[${i}]`, "must be a string");
    if (item.includes("\0")) fail(`${field}[${i}]`, "contains a NUL byte");
  });
  return v as string[];
}

function text(raw: Record<string, unknown>, field: string, fallback: string): string {
  const v = raw[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "string") fail(field, "must be a string");
  if (v.includes("\0")) fail(field, "contains a NUL byte");
  return v;
}

/** The job alone (argv, env, ...), as `bencher-run collect --job FILE` reads it. */
export function parseCollectJob(raw: unknown): CollectJob {
  if (!isObject(raw)) fail("job", "must be an object");
  onlyKnown(raw, ["argv", "env", "workingDir", "user", "outputPaths", "rootfsType", "maxOutputBytes", "maxFileBytes"], "job.");
  const argv = strings(raw, "argv", undefined);
  if (argv.length === 0) fail("job.argv", "is empty: nothing to run");
  if (argv[0] === "") fail("job.argv[0]", "is empty");
  const env = strings(raw, "env", []);
  env.forEach((entry, i) => {
    if (entry.indexOf("=") <= 0) fail(`job.env[${i}]`, `${JSON.stringify(entry)} is not NAME=value`);
  });
  const workingDir = text(raw, "workingDir", "/");
  if (!workingDir.startsWith("/")) fail("job.workingDir", `must be absolute, got ${JSON.stringify(workingDir)}`);
  const rootfsType = text(raw, "rootfsType", "ext4");
  if (rootfsType !== "ext4" && rootfsType !== "squashfs") fail("job.rootfsType", `must be "ext4" or "squashfs", got ${JSON.stringify(rootfsType)}`);
  const outputPaths = strings(raw, "outputPaths", []);
  try {
    hostNamesForOutputs(outputPaths);
  } catch (err) {
    fail("job.outputPaths:", (err as Error).message);
  }
  return {
    argv,
    env,
    workingDir,
    user: text(raw, "user", ""),
    outputPaths,
    rootfsType,
    maxOutputBytes: wholeNumber(raw, "maxOutputBytes", 0, MAX_OUTPUT_BYTES_LIMIT, DEFAULT_MAX_OUTPUT_BYTES)!,
    maxFileBytes: wholeNumber(raw, "maxFileBytes", 0, MAX_OUTPUT_BYTES_LIMIT, DEFAULT_MAX_OUTPUT_BYTES)!,
  };
}

export function parseCollectRequest(raw: unknown): CollectRequest {
  if (!isObject(raw)) throw new Error("collect request: must be an object");
  onlyKnown(raw, ["socketPath", "consoleLog", "job", "timeoutMs", "bootTimeoutMs", "stallTimeoutMs", "outputDir", "keyHex"], "");
  const socketPath = absolutePath(raw, "socketPath", true)!;
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) fail("socketPath", `is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a Unix socket path may have`);
  const req: CollectRequest = {
    socketPath,
    job: parseCollectJob(raw.job),
    bootTimeoutMs: wholeNumber(raw, "bootTimeoutMs", 1, MAX_BOOT_TIMEOUT_MS, DEFAULT_BOOT_TIMEOUT_MS)!,
    stallTimeoutMs: wholeNumber(raw, "stallTimeoutMs", 1, DAY_MS, DEFAULT_STALL_TIMEOUT_MS)!,
  };
  const consoleLog = absolutePath(raw, "consoleLog", false);
  if (consoleLog !== undefined) req.consoleLog = consoleLog;
  const outputDir = absolutePath(raw, "outputDir", false);
  if (outputDir !== undefined) req.outputDir = outputDir;
  const timeoutMs = wholeNumber(raw, "timeoutMs", 1, MAX_TIMEOUT_MS);
  if (timeoutMs !== undefined) req.timeoutMs = timeoutMs;
  if (raw.keyHex !== undefined && raw.keyHex !== null) {
    if (typeof raw.keyHex !== "string" || !new RegExp(`^[0-9a-fA-F]{${RUN_KEY_BYTES * 2}}$`).test(raw.keyHex)) {
      fail("keyHex", `must be ${RUN_KEY_BYTES * 2} hex digits`); // never echo a key
    }
    req.keyHex = raw.keyHex;
  }
  return req;
}
