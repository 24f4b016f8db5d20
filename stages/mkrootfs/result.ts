// The mkrootfs stage's result, checked by the coordinator: the stage may be
// compromised, so the image it names must be the one the coordinator expects
// (the cache's file for the result's key, or the `out` it asked for) and a
// regular file there, never a symlink to something else root can read.
import { lstatSync } from "node:fs";
import { join, resolve } from "node:path";
import { array, boolean, checkLine, oneOf, resultFail, resultObject, wholeNumber, type Raw } from "../../lib/ipc/result-fields.js";
import type { ImageAccounts } from "./accounts.js";
import type { MkrootfsResult } from "./mkrootfs.js";
import type { RootfsType } from "./request.js";

export interface MkrootfsResultPlaces {
  /** The root-image cache directory the stage may add to. */
  cacheDir: string;
  /** The file system the request asked for. */
  fs: RootfsType;
  /** The request's `out`, when it named one. */
  out?: string;
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
  const cacheKey = r.cacheKey;
  if (typeof cacheKey !== "string" || !/^[0-9a-f]{64}$/.test(cacheKey)) resultFail("cacheKey", "must be 64 hex digits");
  const image = places.out !== undefined ? resolve(places.out) : join(places.cacheDir, `${cacheKey as string}.${fs}`);
  if (r.image !== image) resultFail("image", `must be ${image}`);
  const st = lstatSync(image, { throwIfNoEntry: false });
  if (!st?.isFile()) resultFail("image", `${image} is not a regular file${st?.isSymbolicLink() ? " (a symlink)" : ""}`);
  const result: MkrootfsResult = {
    image,
    fs,
    bytes: wholeNumber(r, "bytes"),
    cacheKey: cacheKey as string,
    cached: boolean(r, "cached"),
  };
  if (r.accounts !== undefined) {
    const a = resultObject(r.accounts, "accounts");
    const accounts: ImageAccounts = { users: names(a, "users"), groups: names(a, "groups") };
    result.accounts = accounts;
  }
  return result;
}
