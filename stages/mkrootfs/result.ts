// The mkrootfs stage's result, checked by the coordinator: the stage may be
// compromised, so the image it names must be the `out` it was asked for,
// a regular file there, never a symlink to something else root can read.
import { lstatSync } from "node:fs";
import { resolve } from "node:path";
import { array, checkLine, oneOf, resultFail, resultObject, wholeNumber, type Raw } from "../../lib/ipc/result-fields.js";
import type { ImageAccounts } from "./accounts.js";
import type { MkrootfsResult } from "./mkrootfs.js";
import type { RootfsType } from "./request.js";

export interface MkrootfsResultPlaces {
  /** The file system the request asked for. */
  fs: RootfsType;
  /** The request's `out`. */
  out: string;
}

function names(raw: Raw, field: string): string[] | null {
  if (raw[field] === null) return null;
  return array(raw, field, 1_000_000).map((v, i) => {
    if (typeof v !== "string") resultFail(`accounts.${field}[${i}]`, "must be a string");
    return checkLine(v as string, `accounts.${field}[${i}]`, 256);
  });
}

export function parseMkrootfsResult(raw: unknown, places: MkrootfsResultPlaces): MkrootfsResult {
  const r = resultObject(raw);
  const fs = oneOf(r, "fs", ["ext4", "squashfs"] as const);
  if (fs !== places.fs) resultFail("fs", `must be ${places.fs}, as requested`);
  const image = resolve(places.out);
  if (r.image !== image) resultFail("image", `must be ${image}`);
  const st = lstatSync(image, { throwIfNoEntry: false });
  if (!st?.isFile()) resultFail("image", `${image} is not a regular file${st?.isSymbolicLink() ? " (a symlink)" : ""}`);
  const result: MkrootfsResult = {
    image,
    fs,
    bytes: wholeNumber(r, "bytes"),
  };
  if (r.accounts !== undefined) {
    const a = resultObject(r.accounts, "accounts");
    const accounts: ImageAccounts = { users: names(a, "users"), groups: names(a, "groups") };
    result.accounts = accounts;
  }
  return result;
}
