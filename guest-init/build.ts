// Builds guest-init as a small static binary with musl-gcc into the cache,
// keyed by a hash of its sources and flags, so a changed source rebuilds and
// an unchanged one never does. Run directly to build: node dist/guest-init/build.js
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { cacheRoot, projectRoot } from "../lib/paths.js";
import { makeDirectory } from "../lib/fs/make-directory.js";

export const GUEST_INIT_SOURCE_DIR = join(projectRoot, "guest-init");
export const GUEST_INIT_COMPILER = "musl-gcc";
export const GUEST_INIT_CFLAGS = [
  "-static", "-Os", "-s", "-std=gnu11", "-Wall", "-Wextra", "-Werror",
  "-ffunction-sections", "-fdata-sections", "-Wl,--gc-sections", "-fno-asynchronous-unwind-tables",
];

function sourceFiles(): string[] {
  if (!existsSync(GUEST_INIT_SOURCE_DIR)) throw new Error(`guest-init: sources not found at ${GUEST_INIT_SOURCE_DIR}`);
  return readdirSync(GUEST_INIT_SOURCE_DIR).filter((f) => /\.[ch]$/.test(f)).sort();
}

/** Hash of everything that decides the binary: file names and contents, compiler, flags. */
export function guestInitSourceHash(): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([GUEST_INIT_COMPILER, GUEST_INIT_CFLAGS]));
  for (const file of sourceFiles()) {
    hash.update(`\0${file}\0`);
    hash.update(readFileSync(join(GUEST_INIT_SOURCE_DIR, file)));
  }
  return hash.digest("hex").slice(0, 16);
}

/** Where the binary for the current sources lives (it may not exist yet). */
export function guestInitPath(): string {
  return join(cacheRoot(), "guest-init", guestInitSourceHash(), "init");
}

/** Compiles into the cache (atomically: a temp name, then rename) and returns the path. */
export function buildGuestInit(): string {
  const target = guestInitPath();
  if (existsSync(target)) return target;
  makeDirectory(join(target, ".."));
  const temp = `${target}.tmp-${process.pid}`;
  const sources = sourceFiles().filter((f) => f.endsWith(".c")).map((f) => join(GUEST_INIT_SOURCE_DIR, f));
  try {
    execFileSync(GUEST_INIT_COMPILER, [...GUEST_INIT_CFLAGS, "-o", temp, ...sources], { stdio: ["ignore", "ignore", "pipe"] });
    renameSync(temp, target);
  } catch (error) {
    rmSync(temp, { force: true });
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT")
      throw new Error(`guest-init: ${GUEST_INIT_COMPILER} not found; install it (Debian: apt-get install musl-tools) and retry`);
    const firstError = (e.stderr?.toString() ?? "").split("\n").find((l) => l.includes("error")) ?? e.message;
    throw new Error(`guest-init: ${GUEST_INIT_COMPILER} failed: ${firstError.trim()}`);
  }
  return target;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    console.log(buildGuestInit());
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}
