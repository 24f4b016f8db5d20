// Checks an image description read from a user's JSON file before anything is
// built: each mistake is named by its place in the JSON ("layers[0].entries[2].type")
// instead of surfacing as a builder crash or as an image that unpack refuses.
import { statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { ImageDescription } from "./description.js";

const COMPRESSIONS = ["none", "gzip", "zstd"];
const ENTRY_TYPES = ["file", "dir", "symlink", "hardlink", "whiteout", "opaque", "chardev", "blockdev", "fifo"];
const FILE_SOURCES = ["content", "base64", "hostFile", "random"];
/** Linux's device numbers: 12 bits of major, 20 of minor. */
const MAX_MAJOR = 4095;
const MAX_MINOR = 1048575;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

class DescriptionError extends Error {}

function fail(where: string, problem: string): never {
  throw new DescriptionError(`${where}: ${problem}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function object(v: unknown, where: string): Record<string, unknown> {
  if (!isObject(v)) fail(where, "expected an object");
  return v;
}

function onlyKnown(o: Record<string, unknown>, where: string, known: string[]): void {
  for (const key of Object.keys(o)) if (!known.includes(key)) fail(where ? `${where}.${key}` : key, `unknown field (expected one of ${known.join(", ")})`);
}

function optionalString(o: Record<string, unknown>, key: string, where: string): void {
  if (o[key] !== undefined && typeof o[key] !== "string") fail(`${where}.${key}`, "expected a string");
}

function optionalNumber(o: Record<string, unknown>, key: string, where: string): void {
  if (o[key] !== undefined && (typeof o[key] !== "number" || !Number.isSafeInteger(o[key]) || (o[key] as number) < 0)) fail(`${where}.${key}`, "expected a whole number");
}

function optionalStrings(o: Record<string, unknown>, key: string, where: string): void {
  const v = o[key];
  if (v !== undefined && (!Array.isArray(v) || !v.every((s) => typeof s === "string"))) fail(`${where}.${key}`, "expected an array of strings");
}

function oneOf(v: unknown, where: string, allowed: string[]): void {
  if (v !== undefined && !allowed.includes(v as string)) fail(where, `${JSON.stringify(v)}: expected one of ${allowed.join(", ")}`);
}

function base64(v: unknown, where: string): void {
  if (typeof v !== "string" || !BASE64.test(v)) fail(where, "expected base64 text (A-Z, a-z, 0-9, +, /, padded with = to a multiple of 4)");
}

/** A path the user wrote relative to their description's directory, made absolute; refused if no file is there. */
function hostPath(o: Record<string, unknown>, key: string, where: string, baseDir: string): void {
  if (typeof o[key] !== "string") return;
  const path = isAbsolute(o[key] as string) ? (o[key] as string) : resolve(baseDir, o[key] as string);
  if (!statSync(path, { throwIfNoEntry: false })?.isFile()) fail(`${where}.${key}`, `${o[key]}: no such file${path !== o[key] ? ` (${path})` : ""}`);
  o[key] = path;
}

function checkPath(v: unknown, where: string): void {
  if (typeof v !== "string" || v === "") fail(where, "expected a non-empty string");
  const parts = v.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0) fail(where, `${JSON.stringify(v)} names the image's root, not an entry in it`);
  if (parts.includes("..")) fail(where, `${JSON.stringify(v)}: ".." is not allowed (to craft such a layer, give a tarFile)`);
  if (v.includes("\0")) fail(where, "holds a NUL byte");
}

function checkXattrs(v: unknown, where: string): void {
  for (const [name, value] of Object.entries(object(v, where))) {
    const at = `${where}[${JSON.stringify(name)}]`;
    if (name === "" || name.includes("=") || name.includes("\0")) fail(at, "an xattr name is not empty and holds no \"=\" or NUL (PAX records could not carry it)");
    if (typeof value === "string") continue;
    if (!isObject(value) || Object.keys(value).join() !== "base64") fail(at, "expected a string, or {\"base64\": ...} for raw bytes");
    base64(value.base64, `${at}.base64`);
  }
}

function checkEntry(raw: unknown, where: string, baseDir: string): void {
  const e = object(raw, where);
  if (typeof e.type !== "string" || !ENTRY_TYPES.includes(e.type)) fail(`${where}.type`, `${JSON.stringify(e.type)}: expected one of ${ENTRY_TYPES.join(", ")}`);
  checkPath(e.path, `${where}.path`);
  const owned = ["type", "path", "mode", "uid", "gid", "mtime", "xattrs"];
  switch (e.type) {
    case "file": {
      onlyKnown(e, where, [...owned, ...FILE_SOURCES]);
      const sources = FILE_SOURCES.filter((k) => e[k] !== undefined);
      if (sources.length > 1) fail(where, `give one of ${FILE_SOURCES.join(", ")}, not ${sources.join(" and ")}`);
      optionalString(e, "content", where);
      if (e.base64 !== undefined) base64(e.base64, `${where}.base64`);
      optionalString(e, "hostFile", where);
      hostPath(e, "hostFile", where, baseDir);
      if (e.random !== undefined) {
        const r = object(e.random, `${where}.random`);
        onlyKnown(r, `${where}.random`, ["size", "seed"]);
        if (r.size === undefined) fail(`${where}.random.size`, "missing");
        optionalNumber(r, "size", `${where}.random`);
        optionalNumber(r, "seed", `${where}.random`);
      }
      break;
    }
    case "symlink":
    case "hardlink":
      onlyKnown(e, where, e.type === "hardlink" ? ["type", "path", "target"] : [...owned, "target"]);
      if (typeof e.target !== "string" || e.target === "") fail(`${where}.target`, "expected a non-empty string");
      break;
    case "chardev":
    case "blockdev":
      onlyKnown(e, where, [...owned, "major", "minor"]);
      for (const k of ["major", "minor"]) {
        if (e[k] === undefined) fail(`${where}.${k}`, "missing");
        optionalNumber(e, k, where);
      }
      if ((e.major as number) > MAX_MAJOR) fail(`${where}.major`, `${e.major}: Linux device majors go up to ${MAX_MAJOR}`);
      if ((e.minor as number) > MAX_MINOR) fail(`${where}.minor`, `${e.minor}: Linux device minors go up to ${MAX_MINOR}`);
      break;
    case "whiteout":
    case "opaque":
      onlyKnown(e, where, ["type", "path"]);
      break;
    default:
      onlyKnown(e, where, owned);
  }
  for (const k of ["mode", "uid", "gid", "mtime"]) optionalNumber(e, k, where);
  if (typeof e.mode === "number" && e.mode > 0o7777) fail(`${where}.mode`, `${e.mode} (0o${e.mode.toString(8)}): expected permission bits, at most 0o7777 (4095)`);
  if (e.xattrs !== undefined) checkXattrs(e.xattrs, `${where}.xattrs`);
}

/**
 * The description as the builder takes it, or an Error naming the first
 * mistake by its JSON path. Relative hostFile and tarFile paths are taken
 * from `baseDir` (the description's own directory, for a file) and made
 * absolute in the result.
 */
export function checkImageDescription(raw: unknown, baseDir = process.cwd()): ImageDescription {
  const d = object(raw, "the description");
  onlyKnown(d, "", ["base", "baseCompression", "layers", "config", "platform"]);
  oneOf(d.base, "base", ["busybox", "scratch"]);
  oneOf(d.baseCompression, "baseCompression", COMPRESSIONS);
  if (d.layers !== undefined) {
    if (!Array.isArray(d.layers)) fail("layers", "expected an array");
    d.layers.forEach((rawLayer, i) => {
      const where = `layers[${i}]`;
      const layer = object(rawLayer, where);
      onlyKnown(layer, where, ["compression", "entries", "tarFile"]);
      oneOf(layer.compression, `${where}.compression`, COMPRESSIONS);
      if (layer.entries !== undefined && layer.tarFile !== undefined) fail(where, "give entries or tarFile, not both");
      optionalString(layer, "tarFile", where);
      hostPath(layer, "tarFile", where, baseDir);
      if (layer.entries !== undefined) {
        if (!Array.isArray(layer.entries)) fail(`${where}.entries`, "expected an array");
        layer.entries.forEach((entry, j) => checkEntry(entry, `${where}.entries[${j}]`, baseDir));
      }
    });
  }
  if (d.config !== undefined) {
    const c = object(d.config, "config");
    onlyKnown(c, "config", ["env", "workingDir", "entrypoint", "cmd", "user", "labels"]);
    for (const k of ["env", "entrypoint", "cmd"]) optionalStrings(c, k, "config");
    for (const k of ["workingDir", "user"]) optionalString(c, k, "config");
    if (c.labels !== undefined && !Object.values(object(c.labels, "config.labels")).every((v) => typeof v === "string")) fail("config.labels", "expected string values");
  }
  if (d.platform !== undefined) {
    const p = object(d.platform, "platform");
    onlyKnown(p, "platform", ["os", "architecture", "variant"]);
    for (const k of ["os", "architecture"]) if (typeof p[k] !== "string") fail(`platform.${k}`, "expected a string");
    optionalString(p, "variant", "platform");
  }
  return d as ImageDescription;
}
