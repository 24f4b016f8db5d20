// Errors that cross the stage boundary. A stage's error travels as a plain
// object (WireError) and comes back as a StageError that keeps the stage name,
// the message, an optional errno-like code and the whole cause chain.

/** What went wrong with the bytes or shape of a message. */
export type ProtocolErrorKind = "truncated" | "oversized" | "malformed" | "invalid-message";

/** A frame or message that breaks the protocol. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
  constructor(readonly kind: ProtocolErrorKind, message: string) {
    super(message);
  }
}

/** An error as it travels in an `error` frame. */
export interface WireError {
  stage: string;
  name: string;
  message: string;
  code?: string;
  cause?: WireError;
}

/** An error raised by (or while talking to) a stage. `cause` is another StageError or absent. */
export class StageError extends Error {
  override name = "StageError";
  /** The original error class name inside the stage (e.g. "Error", "TypeError"). */
  readonly remoteName: string;
  readonly code: string | undefined;

  constructor(readonly stage: string, message: string, options: { cause?: unknown; code?: string; remoteName?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.remoteName = options.remoteName ?? "Error";
  }
}

/** Cause chains deeper than this are cut (a cycle or a pathological chain must not blow the frame up). */
const MAX_CAUSE_DEPTH = 16;

/** Turns any thrown value into a WireError, keeping the stage of nested StageErrors. */
export function toWireError(err: unknown, stage: string, depth = 0): WireError {
  if (!(err instanceof Error)) {
    return { stage, name: "Error", message: typeof err === "string" ? err : `non-Error value thrown: ${safeString(err)}` };
  }
  const ownStage = err instanceof StageError ? err.stage : stage;
  const wire: WireError = {
    stage: ownStage,
    name: err instanceof StageError ? err.remoteName : err.name,
    message: err.message,
  };
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") wire.code = code;
  if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) wire.cause = toWireError(err.cause, ownStage, depth + 1);
  return wire;
}

/**
 * Turns a validated WireError back into a StageError chain. `calledStage` is
 * the stage the coordinator called: the error is reported as that stage's,
 * whatever name the (untrusted) stage put in it; a different claimed name is
 * kept only as quoted text in the message.
 */
export function fromWireError(wire: WireError, calledStage?: string): StageError {
  const stage = calledStage ?? wire.stage;
  const message = calledStage !== undefined && wire.stage !== calledStage
    ? `(error claims to be from stage ${JSON.stringify(wire.stage)}) ${wire.message}`
    : wire.message;
  return new StageError(stage, message, {
    code: wire.code,
    remoteName: wire.name,
    cause: wire.cause ? fromWireError(wire.cause, calledStage) : undefined,
  });
}

/** Each string of an error from a stage is cut to this many characters (a stage must not make the coordinator print megabytes). */
export const MAX_WIRE_TEXT = 4096;
/** Causes of an error from a stage deeper than this are dropped. */
export const MAX_WIRE_CAUSES = 8;

/** Validates an untrusted value as a WireError; throws ProtocolError if it is not one. Strings are cut, control characters escaped, deep causes dropped. */
export function parseWireError(raw: unknown, depth = 0): WireError {
  if (depth > MAX_CAUSE_DEPTH) throw new ProtocolError("invalid-message", "invalid error: cause chain too deep");
  if (!isPlainObject(raw)) throw new ProtocolError("invalid-message", "invalid error: not an object");
  const { stage, name, message, code, cause } = raw;
  if (typeof stage !== "string" || typeof name !== "string" || typeof message !== "string") {
    throw new ProtocolError("invalid-message", "invalid error: stage, name and message must be strings");
  }
  if (code !== undefined && typeof code !== "string") throw new ProtocolError("invalid-message", "invalid error: code must be a string");
  const wire: WireError = { stage: wireText(stage, 64), name: wireText(name, 128), message: wireText(message, MAX_WIRE_TEXT) };
  if (code !== undefined) wire.code = wireText(code, 128);
  if (cause !== undefined && cause !== null && depth < MAX_WIRE_CAUSES) wire.cause = parseWireError(cause, depth + 1);
  else if (cause !== undefined && cause !== null) parseWireError(cause, depth + 1); // still refuse a chain that never ends
  return wire;
}

function wireText(text: string, max: number): string {
  return escapeControls(text.length > max ? `${text.slice(0, max)}… (cut, ${text.length} characters)` : text);
}

// C0 and C1 control characters and DEL, except \t and \n.
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
const CONTROLS_AND_NEWLINE = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g;

/**
 * Makes text from a stage safe to print on a terminal: every C0/C1 control
 * character other than \t and \n (and \n too when `oneLine`) is shown as
 * \xNN, so an escape sequence cannot move the cursor, clear the screen,
 * recolour or retitle the terminal, yet is still visible.
 */
export function escapeControls(text: string, options: { oneLine?: boolean } = {}): string {
  return text.replace(options.oneLine ? CONTROLS_AND_NEWLINE : CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** One line for a human: "unpack: image not found: ENOENT: no such file ..." (each cause appended). */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  let lastStage: string | undefined;
  for (let depth = 0; current !== undefined && current !== null && depth <= MAX_CAUSE_DEPTH; depth++) {
    if (current instanceof StageError) {
      parts.push(current.stage !== lastStage ? `${current.stage}: ${current.message}` : current.message);
      lastStage = current.stage;
    } else if (current instanceof Error) {
      parts.push(current.message);
    } else {
      parts.push(safeString(current));
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  // Node's own messages often repeat their cause; drop a part the previous one already contains.
  const deduped = parts.filter((part, i) => i === 0 || !parts[i - 1].includes(part));
  return escapeControls(deduped.join(": ").replace(/\s*\n\s*/g, " "), { oneLine: true });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && !(value instanceof Uint8Array);
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "(unprintable)";
  }
}
