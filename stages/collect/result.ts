// The collect stage's result, checked by the coordinator: the stage may be
// compromised (it talks to a hostile guest), so every field is checked, each
// saved file must be the one the coordinator expects inside the output
// directory it gave the stage, and reading one never follows a symlink.
import { lstatSync } from "node:fs";
import { FileTooLargeError, NotRegularFileError, readSmallFile } from "../../lib/fs/read-small-file.js";
import { join } from "node:path";
import { FILE_STATUSES } from "../../lib/guest-protocol/messages.js";
import {
  array, boolean, guestText, nullableMeasure, nullableWholeNumber, oneOf, resultFail, resultObject, wholeNumber, type Raw,
} from "../../lib/ipc/result-fields.js";
import type { CollectMetrics, CollectResult, CollectedFile, Transport } from "./collect.js";
import { hostNamesForOutputs } from "./output-names.js";

export interface CollectResultPlaces {
  /** The job's outputPaths, in order. */
  outputPaths: readonly string[];
  /** The output directory the coordinator gave the stage, if any. */
  outputDir?: string;
}

const TRANSPORTS: readonly Transport[] = ["vsock", "serial", "vsock+serial", "none"];
const STATUSES = [...FILE_STATUSES, "not-received"] as const;

function bytes(raw: Raw, field: string): Buffer {
  const v = raw[field];
  if (!(v instanceof Uint8Array)) resultFail(field, "must be bytes");
  return Buffer.from((v as Uint8Array).buffer, (v as Uint8Array).byteOffset, (v as Uint8Array).byteLength);
}

function pair<T>(raw: Raw, field: string, each: (r: Raw, key: string) => T): Record<"stdout" | "stderr", T> {
  const o = resultObject(raw[field], field);
  return { stdout: each(o, "stdout"), stderr: each(o, "stderr") };
}

function metrics(raw: unknown): CollectMetrics {
  const m = resultObject(raw, "metrics");
  const n = (f: string) => nullableWholeNumber(m, f);
  return {
    wallMs: wholeNumber(m, "wallMs"),
    connectedMs: n("connectedMs"), bootMs: n("bootMs"), startedMs: n("startedMs"), exitedMs: n("exitedMs"),
    runMs: nullableMeasure(m, "runMs"), userMs: nullableMeasure(m, "userMs"), sysMs: nullableMeasure(m, "sysMs"), maxRssKiB: n("maxRssKiB"),
    transport: oneOf(m, "transport", TRANSPORTS),
    streamFrames: wholeNumber(m, "streamFrames"),
    consoleFrames: wholeNumber(m, "consoleFrames"),
    duplicateFrames: wholeNumber(m, "duplicateFrames"),
  };
}

export function parseCollectResult(raw: unknown, places: CollectResultPlaces): CollectResult {
  const r = resultObject(raw);
  const hostNames = hostNamesForOutputs(places.outputPaths);
  const expectedHost = (i: number) => (places.outputDir === undefined ? null : join(places.outputDir, hostNames[i]!));
  const rawFiles = array(r, "files", places.outputPaths.length);
  if (rawFiles.length !== places.outputPaths.length) resultFail("files", `must list the ${places.outputPaths.length} output paths of the job`);
  const files: CollectedFile[] = rawFiles.map((v, i) => {
    const f = resultObject(v, `files[${i}]`);
    const guestPath = places.outputPaths[i]!;
    if (f.guestPath !== guestPath) resultFail(`files[${i}].guestPath`, `must be ${JSON.stringify(guestPath)}`);
    const hostPath = f.hostPath;
    if (hostPath !== null && (expectedHost(i) === null || hostPath !== expectedHost(i))) {
      resultFail(`files[${i}].hostPath`, places.outputDir === undefined ? "must be null (no output directory)" : `must be null or ${expectedHost(i)}`);
    }
    const data = f.data === null ? null : bytes(f, "data");
    const file: CollectedFile = {
      guestPath,
      status: oneOf(f, "status", STATUSES),
      size: wholeNumber(f, "size"),
      bytes: wholeNumber(f, "bytes"),
      truncated: boolean(f, "truncated"),
      hostPath: hostPath as string | null,
      data,
    };
    if (f.error !== undefined) file.error = guestText(f, "error", 4096);
    return file;
  });
  const outputs: Record<string, string | null> = {};
  const rawOutputs = resultObject(r.outputs, "outputs");
  for (const [key, value] of Object.entries(rawOutputs)) {
    const i = places.outputPaths.indexOf(key);
    if (i < 0) resultFail("outputs", `names ${JSON.stringify(key.slice(0, 200))}, not an output path of the job`);
    if (value !== null && value !== files[i]!.hostPath) resultFail(`outputs[${JSON.stringify(key)}]`, "must be null or the file's hostPath");
    outputs[key] = value as string | null;
  }
  const result: CollectResult = {
    complete: boolean(r, "complete"),
    exitCode: nullableWholeNumber(r, "exitCode", 0, 255),
    signal: nullableWholeNumber(r, "signal", 1, 128),
    timedOut: boolean(r, "timedOut"),
    bootTimedOut: boolean(r, "bootTimedOut"),
    stdout: bytes(r, "stdout"),
    stderr: bytes(r, "stderr"),
    outputBytes: pair(r, "outputBytes", (o, k) => wholeNumber(o, k)),
    truncated: pair(r, "truncated", boolean),
    outputs,
    files,
    metrics: metrics(r.metrics),
    forgedFrames: wholeNumber(r, "forgedFrames"),
    rejectedFrames: array(r, "rejectedFrames", 1000).map((v, i) => guestText({ [`rejectedFrames[${i}]`]: v }, `rejectedFrames[${i}]`, 4096)),
    guestError: r.guestError === null ? null : guestText(r, "guestError", 65536),
    diagnostics: array(r, "diagnostics", 1000).map((v, i) => guestText({ [`diagnostics[${i}]`]: v }, `diagnostics[${i}]`, 65536)),
  };
  if (r.error !== undefined) result.error = guestText(r, "error", 65536);
  return result;
}

/**
 * The bytes of a file collect saved, read by the coordinator (as root): its
 * hostPath must already have been checked by parseCollectResult (inside the
 * output directory), every directory on the way must be a real directory and
 * the file a regular one, opened without following a symlink (the stage has
 * exited, so nothing changes them meanwhile). Anything else is an error
 * naming the guest path.
 */
export function readCollectedFile(file: CollectedFile, outputDir: string, maxBytes: number): Buffer {
  const hostPath = file.hostPath!;
  const fail = (why: string): never => {
    throw new Error(`output ${file.guestPath}: ${why}`);
  };
  if (!hostPath.startsWith(`${outputDir}/`)) fail("the collect stage saved it outside the output directory");
  const parts = hostPath.slice(outputDir.length + 1).split("/");
  let dir = outputDir;
  for (const part of parts.slice(0, -1)) {
    dir = join(dir, part);
    if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) fail(`the collect stage left ${dir}, which is not a directory`);
  }
  try {
    return readSmallFile(hostPath, maxBytes);
  } catch (err) {
    if (err instanceof NotRegularFileError) return fail("the collect stage left something other than a regular file");
    if (err instanceof FileTooLargeError) return fail(`the saved file is ${err.size} bytes, more than the job's ${maxBytes}`);
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === "ELOOP" ? "the collect stage left a symlink, not the file" : `could not open the saved file: ${code ?? (err as Error).message}`);
  }
}
