// Field checks for stage requests at the boundary: every failure is one line
// naming the request and the field ("boot request: kernel is missing").
import { isAbsolute } from "node:path";

type Raw = Record<string, unknown>;

/** Throws the one-line error. Give it an explicit type where it is used, so TypeScript narrows after a call. */
export type Fail = (field: string, why: string) => never;

export function requestFields(what: string) {
  const fail: Fail = (field: string, why: string): never => {
    throw new Error(`${what}: ${field} ${why}`);
  };

  /** An absolute path without NUL bytes; undefined when absent and not required. */
  const absolutePath = (raw: Raw, field: string, required: boolean): string | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) {
      if (required) fail(field, "is missing");
      return undefined;
    }
    if (typeof v !== "string" || v === "") fail(field, "must be a non-empty path");
    const path = v as string;
    if (!isAbsolute(path)) fail(field, `must be an absolute path, got ${JSON.stringify(path)}`);
    if (path.includes("\0")) fail(field, "contains a NUL byte");
    return path;
  };

  /** A whole number in [min, max]; `fallback` when absent. */
  const wholeNumber = (raw: Raw, field: string, min: number, max: number, fallback?: number): number | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
      fail(field, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v as number;
  };

  return { fail, absolutePath, wholeNumber };
}
