// How the collect stage executable streams the guest's output and its steps
// to the coordinator while the run goes on. lib/ipc carries text logs only,
// so each event is a debug log line with a fixed prefix: output chunks as
// base64 (byte for byte, binary intact), phases with their time. The
// coordinator passes each log to parseStageEvent() before showing it.
import { MAX_TEXT } from "../../lib/ipc/messages.js";
import type { CollectPhase, OutputStream } from "./collect.js";

export const STAGE_EVENT_PREFIX = "bencher-collect:";
export const STAGE_EVENT_LEVEL = "debug" as const;

export type CollectStageEvent =
  | { kind: "output"; stream: OutputStream; data: Buffer }
  | { kind: "phase"; phase: CollectPhase; atMs: number };

/** Bytes per log line: their base64 and the prefix stay under lib/ipc's text limit. */
const CHUNK_BYTES = Math.floor((MAX_TEXT - 64) / 4) * 3;
const PHASES: readonly CollectPhase[] = ["listening", "connected", "hello", "ready", "running", "exited", "failed", "done"];

/** Log lines for one output chunk (several when it is large). */
export function outputEventLines(stream: OutputStream, data: Buffer): string[] {
  const lines: string[] = [];
  for (let at = 0; at < data.length; at += CHUNK_BYTES) {
    lines.push(`${STAGE_EVENT_PREFIX}${stream}:${data.subarray(at, at + CHUNK_BYTES).toString("base64")}`);
  }
  return lines;
}

export function phaseEventLine(phase: CollectPhase, atMs: number): string {
  return `${STAGE_EVENT_PREFIX}phase:${phase}:${atMs}`;
}

/** The event a stage log line carries, or null for an ordinary log line. */
export function parseStageEvent(level: string, message: string): CollectStageEvent | null {
  if (level !== STAGE_EVENT_LEVEL || !message.startsWith(STAGE_EVENT_PREFIX)) return null;
  const body = message.slice(STAGE_EVENT_PREFIX.length);
  const colon = body.indexOf(":");
  const kind = body.slice(0, colon);
  const rest = body.slice(colon + 1);
  if (kind === "stdout" || kind === "stderr") return { kind: "output", stream: kind, data: Buffer.from(rest, "base64") };
  if (kind === "phase") {
    const [phase, atMs] = rest.split(":");
    if (PHASES.includes(phase as CollectPhase) && /^\d+$/.test(atMs ?? "")) return { kind: "phase", phase: phase as CollectPhase, atMs: Number(atMs) };
  }
  return null;
}
