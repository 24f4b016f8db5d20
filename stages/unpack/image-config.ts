// The parts of an image config (OCI image spec "config.json") that unpack
// uses, read defensively: the config is part of the untrusted image.

import { UnpackError } from "./image-root.js";
import { checkDigest } from "./digest.js";

export interface ImageConfig {
  env: string[];
  workingDir: string;
  entrypoint: string[] | null;
  cmd: string[] | null;
  user: string;
  os: string;
  architecture: string;
  variant?: string;
  diffIds: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, what: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) throw new UnpackError(`${what} is not a list of strings`);
  return v as string[];
}

function optionalString(v: unknown, what: string): string {
  if (v === undefined || v === null) return "";
  if (typeof v !== "string") throw new UnpackError(`${what} is not a string`);
  return v;
}

export function parseImageConfig(doc: unknown, what: string): ImageConfig {
  if (!isObject(doc)) throw new UnpackError(`${what} is not a JSON object`);
  const run = doc.config === undefined || doc.config === null ? {} : doc.config;
  if (!isObject(run)) throw new UnpackError(`${what}: "config" is not an object`);
  const rootfs = doc.rootfs;
  const diffIds = isObject(rootfs) ? stringList(rootfs.diff_ids, `${what}: rootfs.diff_ids`) ?? [] : [];
  diffIds.forEach((d, i) => checkDigest(d, `${what}: rootfs.diff_ids[${i}]`));
  return {
    env: stringList(run.Env, `${what}: Env`) ?? [],
    workingDir: optionalString(run.WorkingDir, `${what}: WorkingDir`),
    entrypoint: stringList(run.Entrypoint, `${what}: Entrypoint`),
    cmd: stringList(run.Cmd, `${what}: Cmd`),
    user: optionalString(run.User, `${what}: User`),
    os: optionalString(doc.os, `${what}: os`),
    architecture: optionalString(doc.architecture, `${what}: architecture`),
    ...(typeof doc.variant === "string" ? { variant: doc.variant } : {}),
    diffIds,
  };
}
