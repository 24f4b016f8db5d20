// `bencher-run pipeline --json`: one JSON document per run, the schema the
// README documents ("The --json document"). Bytes that are valid UTF-8 are
// plain strings; anything else also gets an exact base64 twin, so binary
// output survives JSON intact.
import { jsonOutputs, jsonStreams } from "../../lib/json-text.js";
import type { PipelineMetrics, PipelineResult, VmEnding } from "./result.js";

export const JSON_SCHEMA_VERSION = 1;

export interface PipelineJsonDocument {
  schema: typeof JSON_SCHEMA_VERSION;
  /** What `bencher-run pipeline` exits with. */
  status: number;
  exitCode: number | null;
  signal: number | null;
  timedOut: boolean;
  stdout: string;
  stdoutBase64?: string;
  stderr: string;
  stderrBase64?: string;
  truncated: { stdout: boolean; stderr: boolean; outputs: string[] };
  outputs: Record<string, string | null>;
  outputsBase64?: Record<string, string>;
  savedOutputs?: Record<string, string>;
  /** Guest path → why an --output is null ("no such file in the guest", …). */
  outputsNotReturned?: Record<string, string>;
  metrics: PipelineMetrics;
  image: { digest: string; cached: boolean; reference?: string };
  error?: string;
  guestError?: string;
  forgedFrames: number;
  vm: VmEnding | null;
  runDir?: string;
}

export function toJsonDocument(r: PipelineResult): PipelineJsonDocument {
  const doc: PipelineJsonDocument = {
    schema: JSON_SCHEMA_VERSION,
    status: r.status,
    exitCode: r.exitCode,
    signal: r.signal,
    timedOut: r.timedOut,
    ...jsonStreams(r.stdout, r.stderr),
    truncated: r.truncated,
    ...jsonOutputs(Object.entries(r.outputs)),
    metrics: r.metrics,
    image: r.image,
    forgedFrames: r.forgedFrames,
    vm: r.vm,
  };
  if (Object.keys(r.savedOutputs).length > 0) doc.savedOutputs = r.savedOutputs;
  if (Object.keys(r.notReturned).length > 0) doc.outputsNotReturned = r.notReturned;
  if (r.error !== undefined) doc.error = r.error;
  if (r.guestError !== null) doc.guestError = r.guestError;
  if (r.runDir !== undefined) doc.runDir = r.runDir;
  return doc;
}
