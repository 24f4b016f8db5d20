// Field checks for stage results at the coordinator's boundary. A stage may
// be compromised: its result is hostile input like any other. Every failure
// is one line naming the field ("digest must be a string without control
// characters"); callStage prefixes "<stage>: invalid result: ".
import { escapeControls } from "./errors.js";

export type Raw = Record<string, unknown>;

/** C0 and C1 controls (escape sequences, carriage returns, newlines, NUL). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function fail(field: string, why: string): never {
  throw new Error(`${field} ${why}`);
}

export function resultObject(raw: unknown, field = "result"): Raw {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Buffer.isBuffer(raw)) fail(field, "must be an object");
  return raw as Raw;
}

/** A one-line string (no control characters), at most `max` characters. */
export function oneLine(raw: Raw, field: string, max = 4096): string {
  const v = raw[field];
  if (typeof v !== "string") fail(field, "must be a string");
  return checkLine(v as string, field, max);
}

export function checkLine(v: string, field: string, max = 4096): string {
  if (v.length > max) fail(field, `must be at most ${max} characters`);
  if (CONTROL.test(v)) fail(field, "must not contain control characters");
  return v;
}

export function optionalLine(raw: Raw, field: string, max = 4096): string | undefined {
  return raw[field] === undefined ? undefined : oneLine(raw, field, max);
}

/**
 * Free text that comes from the guest through the stage (console tails, panic
 * messages, guest-init's diagnostics): a well-behaved guest may print escape
 * sequences, so they are not a reason to refuse the run; every control
 * character other than newline and tab is shown as \xNN (escapeControls, as
 * for a stage's own errors and logs), so none reaches a terminal.
 */
export function guestText(raw: Raw, field: string, max = 65536): string {
  const v = raw[field];
  if (typeof v !== "string") fail(field, "must be a string");
  if ((v as string).length > max) fail(field, `must be at most ${max} characters`);
  return escapeControls(v as string);
}

export function wholeNumber(raw: Raw, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = raw[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) fail(field, `must be a whole number from ${min} to ${max}`);
  return v as number;
}

export function nullableWholeNumber(raw: Raw, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | null {
  return raw[field] === null ? null : wholeNumber(raw, field, min, max);
}

/** A finite number >= 0 (a duration in fractional ms), or null. */
export function nullableMeasure(raw: Raw, field: string): number | null {
  const v = raw[field];
  if (v === null) return null;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(field, "must be a number from 0, or null");
  return v as number;
}

export function boolean(raw: Raw, field: string): boolean {
  const v = raw[field];
  if (typeof v !== "boolean") fail(field, "must be true or false");
  return v as boolean;
}

export function oneOf<T extends string>(raw: Raw, field: string, allowed: readonly T[]): T {
  const v = raw[field];
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) fail(field, `must be one of ${allowed.join(", ")}`);
  return v as T;
}

export function array(raw: Raw, field: string, max = 100_000): unknown[] {
  const v = raw[field];
  if (!Array.isArray(v)) fail(field, "must be an array");
  if ((v as unknown[]).length > max) fail(field, `must have at most ${max} entries`);
  return v as unknown[];
}

export { fail as resultFail };
