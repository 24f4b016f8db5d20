// The `--json` document of a run (the schema the README documents): text
// where the bytes are UTF-8, with a base64 twin where they are not, so
// binary output survives JSON intact.
import { jsonOutputs, jsonStreams } from "../../lib/json-text.js";
import { readFileSync } from "node:fs";
import type { CollectMetrics, CollectResult } from "./collect.js";

export interface JsonRunResult {
  exitCode: number | null;
  signal: number | null;
  timedOut: boolean;
  /** UTF-8 text (invalid sequences replaced by U+FFFD). */
  stdout: string;
  /** The exact bytes, only when stdout is not valid UTF-8. */
  stdoutBase64?: string;
  stderr: string;
  stderrBase64?: string;
  /** `outputs`: the paths of output files cut short (max file size, or the run ended mid-file). */
  truncated: { stdout: boolean; stderr: boolean; outputs: string[] };
  /** Guest path → contents as text, or null when the file was not brought back (missing, not a regular file, unreadable). */
  outputs: Record<string, string | null>;
  /** Guest path → exact bytes, only for outputs that are not valid UTF-8. */
  outputsBase64?: Record<string, string>;
  /** Guest path → host path, for outputs saved to an output directory. */
  savedOutputs?: Record<string, string>;
  metrics: CollectMetrics;
  forgedFrames: number;
  /** Why the run did not end normally; absent when it did (a timeout is `timedOut`, not an error). */
  error?: string;
}

/** Shapes a collected run for JSON. Saved output files are read back from the output directory. */
export function toJsonResult(result: CollectResult): JsonRunResult {
  const present = (file: CollectResult["files"][number]): Buffer | null =>
    file.status !== "present" ? null : file.hostPath !== null ? readFileSync(file.hostPath) : file.data;
  const json: JsonRunResult = {
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    ...jsonStreams(result.stdout, result.stderr),
    truncated: { ...result.truncated, outputs: result.files.filter((f) => f.truncated).map((f) => f.guestPath) },
    ...jsonOutputs(result.files.map((f) => [f.guestPath, present(f)] as [string, Buffer | null])),
    metrics: result.metrics,
    forgedFrames: result.forgedFrames,
  };
  for (const file of result.files) {
    if (file.status === "present" && file.hostPath !== null) (json.savedOutputs ??= {})[file.guestPath] = file.hostPath;
  }
  if (result.error !== undefined) json.error = result.error;
  return json;
}
