// Builds the guest kernel from the recipe (kernel/recipe.ts) into the cache:
//   node dist/kernel/build.js [--force] [--json]
// Progress on a terminal; one JSON line with --json; nothing else otherwise.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync, copyFileSync, openSync, closeSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { configFragment, kernelCacheDir, patchFiles, recipeKey, sourceVersion, SOURCE_PACKAGE, SOURCE_TARBALL } from "./recipe.js";
import { makeDirectory } from "../lib/fs/make-directory.js";

export interface KernelBuildResult {
  vmlinux: string;
  /** The same kernel as a bzImage (what distributions ship; the VMM boots either). */
  bzImage: string;
  key: string;
  built: boolean;
  seconds: number;
}

type Progress = (message: string) => void;

/** Every CONFIG_ line of the fragment must survive olddefconfig, or the recipe is wrong. */
function checkConfigApplied(dotConfig: string): void {
  const have = new Set(readFileSync(dotConfig, "utf8").split("\n"));
  const missing = readFileSync(configFragment, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("CONFIG_") && !have.has(line));
  if (missing.length) {
    throw new Error(`kernel config: options not applied (unmet dependencies?): ${missing.join(", ")}`);
  }
}

export async function buildKernel(options: { force?: boolean; progress?: Progress } = {}): Promise<KernelBuildResult> {
  const progress = options.progress ?? (() => {});
  const started = Date.now();
  const version = sourceVersion();
  if (!version || !existsSync(SOURCE_TARBALL)) {
    throw new Error(`kernel source: ${SOURCE_TARBALL} missing; install Debian package ${SOURCE_PACKAGE}`);
  }
  const key = recipeKey(version);
  const outDir = join(kernelCacheDir(), key);
  const vmlinux = join(outDir, "vmlinux");
  const bzImage = join(outDir, "bzImage");
  if (existsSync(vmlinux) && existsSync(bzImage) && !options.force) {
    return { vmlinux, bzImage, key, built: false, seconds: 0 };
  }

  makeDirectory(outDir);
  const work = join(outDir, `build.${process.pid}`);
  const src = join(work, "src");
  const obj = join(work, "obj");
  const logPath = join(outDir, "build.log");
  const cleanup = () => rmSync(work, { recursive: true, force: true });
  const onSignal = () => {
    cleanup();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const log = openSync(logPath, "w");
  // Output goes to the build log; a failure names the command and the log.
  const run = (file: string, args: string[], cwd: string, onStdout?: (chunk: Buffer) => void) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(file, args, { cwd, stdio: ["ignore", onStdout ? "pipe" : log, log] });
      child.stdout?.on("data", (chunk: Buffer) => {
        writeFileSync(log, chunk);
        onStdout?.(chunk);
      });
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${file} ${args.join(" ")} exited with ${code}`))));
    });
  try {
    makeDirectory(src);
    makeDirectory(obj);
    progress(`kernel ${key}: extracting ${SOURCE_TARBALL}`);
    await run("tar", ["-xf", SOURCE_TARBALL, "-C", src, "--strip-components=1"], work);
    for (const patch of patchFiles()) {
      progress(`kernel ${key}: applying ${patch.split("/").pop()}`);
      await run("patch", ["-p1", "--forward", "--batch", "-i", patch], src);
    }
    progress(`kernel ${key}: configuring`);
    await run("make", [`O=${obj}`, "tinyconfig"], src);
    await run("scripts/kconfig/merge_config.sh", ["-m", "-O", obj, join(obj, ".config"), configFragment], src);
    await run("make", [`O=${obj}`, "olddefconfig"], src);
    checkConfigApplied(join(obj, ".config"));

    const jobs = String(Math.max(1, cpus().length));
    let compiled = 0;
    await run("make", [`O=${obj}`, `-j${jobs}`, "vmlinux", "bzImage"], src, (chunk) => {
      compiled += chunk.toString().split("\n").filter((l) => /^\s+CC\s/.test(l)).length;
      progress(`kernel ${key}: compiling (${compiled} files)`);
    });

    copyFileSync(join(obj, "arch/x86/boot/bzImage"), `${bzImage}.tmp`);
    renameSync(`${bzImage}.tmp`, bzImage);
    copyFileSync(join(obj, "vmlinux"), `${vmlinux}.tmp`);
    copyFileSync(join(obj, ".config"), join(outDir, "config"));
    renameSync(`${vmlinux}.tmp`, vmlinux); // atomic, and last: a half-written kernel is never found
    return { vmlinux, bzImage, key, built: true, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    throw new Error(`kernel build failed (log: ${logPath}): ${(error as Error).message.split("\n")[0]}`);
  } finally {
    closeSync(log);
    cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes("--json");
  const tty = process.stderr.isTTY && !json;
  const progress: Progress = tty ? (m) => process.stderr.write(`\r\x1b[K${m}`) : () => {};
  try {
    const result = await buildKernel({ force: args.includes("--force"), progress });
    if (tty) process.stderr.write(`\r\x1b[K`);
    if (json) console.log(JSON.stringify(result));
    else if (tty || result.built) console.error(`kernel: ${result.vmlinux}${result.built ? ` (built in ${result.seconds.toFixed(0)} s)` : " (cached)"}`);
  } catch (error) {
    if (tty) process.stderr.write(`\r\x1b[K`);
    console.error(`bencher-run: ${(error as Error).message}`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main();
}
