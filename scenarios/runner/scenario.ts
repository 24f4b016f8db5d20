// A scenario file (scenarios/<name>.json): an image description for the
// project's image builder (lib/oci), the pipeline arguments, and what the run
// must produce. Checked field by field when loaded: a bad file is a one-line
// error naming the file and the field.
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { ImageDescription } from "../../lib/oci/description.js";
import type { ImageFormat } from "../../lib/oci/build-image.js";
import { projectRoot } from "../../lib/paths.js";

/** Checks on a byte stream (stdout, stderr, an output file); all given must hold. */
export interface BytesExpectation {
  /** The exact text (UTF-8). */
  equals?: string;
  /** Each of these substrings appears. */
  contains?: string[];
  /** None of these substrings appears. */
  notContains?: string[];
  /** A JavaScript regular expression the text matches. */
  matches?: string;
  /** The exact bytes, base64. */
  base64?: string;
  /** The length in bytes. */
  bytes?: number;
  /** sha256 of the bytes, hex. */
  sha256?: string;
}

export interface Expectations {
  /** The status `bencher-run pipeline` exits with. */
  status?: number;
  exitCode?: number | null;
  signal?: number | null;
  timedOut?: boolean;
  stdout?: BytesExpectation;
  stderr?: BytesExpectation;
  truncated?: { stdout?: boolean; stderr?: boolean };
  /** Guest path → what the file holds, or null: it must not come back. */
  outputs?: Record<string, BytesExpectation | null>;
  /** The runner must fail (status 125), with a reason like this. */
  error?: BytesExpectation;
  /** Why the guest could not run the command (e.g. "cannot execute X: No such file or directory"). */
  guestError?: BytesExpectation;
}

/** The pipeline arguments, as runPipeline() takes them (all optional). */
export interface ScenarioRun {
  cmd?: string[];
  entrypoint?: string[];
  env?: string[];
  /** Adds `count` variables PREFIX0..PREFIXn, each `valueBytes` long (a large environment without a large file). */
  envFill?: { prefix: string; count: number; valueBytes: number };
  workdir?: string;
  user?: string;
  timeoutSec?: number;
  vcpus?: number;
  memoryMiB?: number;
  diskMiB?: number;
  outputs?: string[];
  maxOutputSize?: number;
  rootfs?: "ext4" | "squashfs";
}

export interface Scenario {
  name: string;
  description: string;
  image: ImageDescription;
  /** How the image is stored (default oci-dir): exercises unpack's other inputs too. */
  imageFormat: ImageFormat;
  run: ScenarioRun;
  expect: Expectations;
  /** The file it came from. */
  file: string;
}

export const SCENARIO_DIR = join(projectRoot, "scenarios");

const FORMATS: readonly ImageFormat[] = ["oci-dir", "oci-archive", "docker-archive", "docker-dir"];
const TOP_FIELDS = ["name", "description", "image", "imageFormat", "run", "expect"];
const RUN_FIELDS = ["cmd", "entrypoint", "env", "envFill", "workdir", "user", "timeoutSec", "vcpus", "memoryMiB", "diskMiB", "outputs", "maxOutputSize", "rootfs"];
const EXPECT_FIELDS = ["status", "exitCode", "signal", "timedOut", "stdout", "stderr", "truncated", "outputs", "error", "guestError"];
const BYTES_FIELDS = ["equals", "contains", "notContains", "matches", "base64", "bytes", "sha256"];

export class ScenarioFileError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseScenario(raw: unknown, file: string): Scenario {
  const fail = (field: string, why: string): never => {
    throw new ScenarioFileError(`scenario ${basename(file)}: ${field} ${why}`);
  };
  const only = (obj: Record<string, unknown>, known: string[], where: string) => {
    for (const key of Object.keys(obj)) if (!known.includes(key)) fail(`${where}${key}`, "is not a known field");
  };
  const strings = (v: unknown, field: string): string[] => {
    if (!Array.isArray(v) || v.some((s) => typeof s !== "string")) fail(field, "must be a list of strings");
    return v as string[];
  };
  const whole = (v: unknown, field: string, min: number): number => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) fail(field, `must be a whole number of at least ${min}`);
    return v as number;
  };
  const bytes = (v: unknown, field: string): BytesExpectation => {
    if (!isObject(v)) fail(field, "must be an object like {\"equals\": \"...\"}");
    const o = v as Record<string, unknown>;
    only(o, BYTES_FIELDS, `${field}.`);
    if (Object.keys(o).length === 0) fail(field, "checks nothing");
    for (const key of ["equals", "matches", "base64", "sha256"]) if (o[key] !== undefined && typeof o[key] !== "string") fail(`${field}.${key}`, "must be a string");
    for (const key of ["contains", "notContains"]) if (o[key] !== undefined) strings(o[key], `${field}.${key}`);
    if (o.bytes !== undefined) whole(o.bytes, `${field}.bytes`, 0);
    if (typeof o.matches === "string") {
      try {
        new RegExp(o.matches);
      } catch (err) {
        fail(`${field}.matches`, `is not a regular expression: ${(err as Error).message}`);
      }
    }
    if (typeof o.sha256 === "string" && !/^[0-9a-f]{64}$/.test(o.sha256)) fail(`${field}.sha256`, "must be 64 lowercase hex digits");
    return o as BytesExpectation;
  };

  if (!isObject(raw)) fail("", "must hold a JSON object");
  const r = raw as Record<string, unknown>;
  only(r, TOP_FIELDS, "");
  if (typeof r.name !== "string" || !/^[a-z0-9][a-z0-9_]*$/.test(r.name)) fail("name", "must be lowercase letters, digits and _");
  const name = r.name as string;
  if (basename(file) !== `${name}.json`) fail("name", `must match the file name (${name}.json)`);
  if (typeof r.description !== "string" || r.description === "") fail("description", "must be a non-empty string");
  if (!isObject(r.image)) fail("image", "must be an image description (lib/oci/description.ts)");
  const imageFormat = (r.imageFormat ?? "oci-dir") as ImageFormat;
  if (!FORMATS.includes(imageFormat)) fail("imageFormat", `must be one of ${FORMATS.join(", ")}`);

  const run = (r.run ?? {}) as Record<string, unknown>;
  if (!isObject(run)) fail("run", "must be an object");
  only(run, RUN_FIELDS, "run.");
  for (const key of ["cmd", "entrypoint", "env", "outputs"]) if (run[key] !== undefined) strings(run[key], `run.${key}`);
  for (const key of ["workdir", "user"]) if (run[key] !== undefined && typeof run[key] !== "string") fail(`run.${key}`, "must be a string");
  for (const key of ["timeoutSec", "vcpus", "memoryMiB", "diskMiB"]) if (run[key] !== undefined) whole(run[key], `run.${key}`, 1);
  if (run.maxOutputSize !== undefined) whole(run.maxOutputSize, "run.maxOutputSize", 0);
  if (run.rootfs !== undefined && run.rootfs !== "ext4" && run.rootfs !== "squashfs") fail("run.rootfs", "must be ext4 or squashfs");
  if (run.envFill !== undefined) {
    const f = run.envFill as Record<string, unknown>;
    if (!isObject(f)) fail("run.envFill", "must be {prefix, count, valueBytes}");
    only(f, ["prefix", "count", "valueBytes"], "run.envFill.");
    if (typeof f.prefix !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(f.prefix)) fail("run.envFill.prefix", "must be a variable name");
    whole(f.count, "run.envFill.count", 1);
    whole(f.valueBytes, "run.envFill.valueBytes", 0);
  }

  if (!isObject(r.expect)) fail("expect", "must be an object (a scenario that checks nothing proves nothing)");
  const e = r.expect as Record<string, unknown>;
  only(e, EXPECT_FIELDS, "expect.");
  if (Object.keys(e).length === 0) fail("expect", "checks nothing");
  if (e.status !== undefined) whole(e.status, "expect.status", 0);
  for (const key of ["exitCode", "signal"]) if (e[key] !== undefined && e[key] !== null) whole(e[key], `expect.${key}`, 0);
  if (e.timedOut !== undefined && typeof e.timedOut !== "boolean") fail("expect.timedOut", "must be true or false");
  for (const key of ["stdout", "stderr", "error", "guestError"]) if (e[key] !== undefined) bytes(e[key], `expect.${key}`);
  if (e.truncated !== undefined) {
    if (!isObject(e.truncated)) fail("expect.truncated", "must be {stdout?, stderr?}");
    only(e.truncated as Record<string, unknown>, ["stdout", "stderr"], "expect.truncated.");
  }
  if (e.outputs !== undefined) {
    if (!isObject(e.outputs)) fail("expect.outputs", "must map guest paths to expectations or null");
    for (const [path, v] of Object.entries(e.outputs as Record<string, unknown>)) {
      if (!(run.outputs as string[] | undefined)?.includes(path)) fail(`expect.outputs["${path}"]`, "is not in run.outputs");
      if (v !== null) bytes(v, `expect.outputs["${path}"]`);
    }
  }
  if (e.error !== undefined && (e.status !== undefined || e.exitCode !== undefined)) fail("expect.error", "cannot be combined with status or exitCode (a runner failure has neither)");

  return { name, description: r.description as string, image: r.image as ImageDescription, imageFormat, run: run as ScenarioRun, expect: e as Expectations, file };
}

/** Every scenario in `dir`, sorted by name. */
export function loadScenarios(dir = SCENARIO_DIR): Scenario[] {
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  return files.map((f) => {
    const path = join(dir, f);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new ScenarioFileError(`scenario ${f}: not valid JSON: ${(err as Error).message}`);
    }
    return parseScenario(raw, path);
  });
}
