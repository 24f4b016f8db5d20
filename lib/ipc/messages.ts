// The messages of the stage protocol, and their validation at the boundary.
// Coordinator → stage: exactly one `request`.
// Stage → coordinator: any number of `progress`, `log` and `event`, then one `result` or `error`.
import { ProtocolError, escapeControls, isPlainObject, parseWireError, type WireError } from "./errors.js";

export type LogLevel = "debug" | "info" | "warn";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn"];

export interface RequestMessage { type: "request"; body: unknown }
/** `fraction` in [0, 1], or null when the stage cannot tell how far along it is. */
export interface ProgressMessage { type: "progress"; fraction: number | null; message: string }
export interface LogMessage { type: "log"; level: LogLevel; message: string }
/** A fact the stage tells before its result, for the coordinator to act on at once (unpack's `resolved`). */
export interface EventMessage { type: "event"; name: string; body: unknown }
export interface ResultMessage { type: "result"; body: unknown }
export interface ErrorMessage { type: "error"; error: WireError }

export type StageMessage = ProgressMessage | LogMessage | EventMessage | ResultMessage | ErrorMessage;

/** An event's name: a short lowercase word (hyphens allowed). */
const EVENT_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** Longest progress/log text accepted; longer is cut, not refused (a chatty stage is not broken). Control characters other than \t and \n are escaped (\x1b), so the text is safe to print. */
export const MAX_TEXT = 64 * 1024;

/** Validates what a stage sent; throws ProtocolError naming what is wrong. */
export function parseStageMessage(raw: unknown): StageMessage {
  if (!isPlainObject(raw)) throw invalid("message is not a map");
  switch (raw.type) {
    case "progress": {
      const { fraction, message } = raw;
      if (fraction !== null && (typeof fraction !== "number" || !Number.isFinite(fraction) || fraction < 0 || fraction > 1)) {
        throw invalid("progress fraction must be null or a number in [0, 1]");
      }
      return { type: "progress", fraction: fraction as number | null, message: text(message, "progress message") };
    }
    case "log": {
      const { level, message } = raw;
      if (!LOG_LEVELS.includes(level as LogLevel)) throw invalid(`log level must be one of ${LOG_LEVELS.join(", ")}`);
      return { type: "log", level: level as LogLevel, message: text(message, "log message") };
    }
    case "event": {
      const { name } = raw;
      if (typeof name !== "string" || !EVENT_NAME.test(name)) throw invalid("event name must be a short lowercase word");
      if (!("body" in raw)) throw invalid("event has no body");
      return { type: "event", name, body: raw.body };
    }
    case "result":
      if (!("body" in raw)) throw invalid("result has no body");
      return { type: "result", body: raw.body };
    case "error":
      return { type: "error", error: parseWireError(raw.error) };
    default:
      throw invalid(`unknown message type ${JSON.stringify(String(raw.type)).slice(0, 80)}`);
  }
}

/** Validates what the coordinator sent a stage. */
export function parseRequestMessage(raw: unknown): RequestMessage {
  if (!isPlainObject(raw) || raw.type !== "request" || !("body" in raw)) {
    throw invalid("expected a request message {type: \"request\", body}");
  }
  return { type: "request", body: raw.body };
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw invalid(`${what} must be a string`);
  return escapeControls(value.length > MAX_TEXT ? value.slice(0, MAX_TEXT) + "…" : value);
}

function invalid(message: string): ProtocolError {
  return new ProtocolError("invalid-message", `invalid message: ${message}`);
}
