// Checks an image description read from a user's JSON file before anything is
// built: each mistake is named by its place in the JSON ("layers[0].entries[2].type")
// instead of surfacing as a builder crash or as an image that unpack refuses.
import { statSync } from "node:fs";
import type { ImageDescription } from "./description.js";

const COMPRESSIONS = ["none", "gzip", "zstd"];
const ENTRY_TYPES = ["file", "dir", "symlink", "hardlink", "whiteout", "opaque", "chardev", "blockdev", "fifo"];
const FILE_SOURCES = ["content", "base64", "hostFile", "random"];

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

function checkEntry(raw: unknown, where: string): void {
  const e = object(raw, where);
  if (typeof e.type !== "string" || !ENTRY_TYPES.includes(e.type)) fail(`${where}.type`, `${JSON.stringify(e.type)}: expected one of ${ENTRY_TYPES.join(", ")}`);
  if (typeof e.path !== "string" || e.path === "") fail(`${where}.path`, "expected a non-empty string");
  const owned = ["type", "path", "mode", "uid", "gid", "mtime", "xattrs"];
  switch (e.type) {
    case "file": {
      onlyKnown(e, where, [...owned, ...FILE_SOURCES]);
      const sources = FILE_SOURCES.filter((k) => e[k] !== undefined);
      if (sources.length > 1) fail(where, `give one of ${FILE_SOURCES.join(", ")}, not ${sources.join(" and ")}`);
      optionalString(e, "content", where);
      optionalString(e, "base64", where);
      optionalString(e, "hostFile", where);
      if (typeof e.hostFile === "string" && !statSync(e.hostFile, { throwIfNoEntry: false })?.isFile()) fail(`${where}.hostFile`, `${e.hostFile}: no such file`);
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
      break;
    case "whiteout":
    case "opaque":
      onlyKnown(e, where, ["type", "path"]);
      break;
    default:
      onlyKnown(e, where, owned);
  }
  for (const k of ["mode", "uid", "gid", "mtime"]) optionalNumber(e, k, where);
  if (e.xattrs !== undefined) object(e.xattrs, `${where}.xattrs`);
}

/** The description as the builder takes it, or an Error naming the first mistake by its JSON path. */
export function checkImageDescription(raw: unknown): ImageDescription {
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
      if (typeof layer.tarFile === "string" && !statSync(layer.tarFile, { throwIfNoEntry: false })?.isFile()) fail(`${where}.tarFile`, `${layer.tarFile}: no such file`);
      if (layer.entries !== undefined) {
        if (!Array.isArray(layer.entries)) fail(`${where}.entries`, "expected an array");
        layer.entries.forEach((entry, j) => checkEntry(entry, `${where}.entries[${j}]`));
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
