// The whole pipeline as one call: image → root image (cached) → VM with
// guest-init → the command's output, exit status, files and timings.
//   const result = await runPipeline({ image: "./my-bench.oci", cmd: ["./bench", "--quick"] });
// Rejects with a PipelineError when the run cannot start (bad options or
// image, no KVM, no kernel); once a VM ran it resolves, with `error` set when
// the runner failed (status 125). The run directory is removed afterwards
// unless `keep` is set.
import { locateKernel } from "../kernel/locate.js";
import { isNestedPvmHost } from "../kernel/cmdline.js";
import { newRunKey } from "../lib/guest-protocol/job.js";
import { resolveRunSpec } from "../lib/guest-protocol/resolve-command.js";
import { makeDirectory, removeMadeDirectories } from "../lib/fs/make-directory.js";
import { describeError } from "../lib/ipc/errors.js";
import { RunWorkdir, sweepStaleRuns } from "../lib/workdir/run-workdir.js";
import { defaultWorkRoot } from "../lib/workdir/work-root.js";
import type { CollectJob } from "../stages/collect/request.js";
import { PipelineError, PipelineOptionError } from "./pipeline/errors.js";
import { checkOptions, type CheckedOptions, type PipelineOptions, type PipelinePhase } from "./pipeline/options.js";
import { locateImage, prepareRootImage } from "./pipeline/root-image.js";
import { runnerFailure, statusFor, vmEnding, whyNotReturned, type PipelineResult } from "./pipeline/result.js";
import { runVm } from "./pipeline/vm-run.js";
import { userSpecProblem } from "./pipeline/user-check.js";
import { outputPlaceProblem, saveOutput } from "./pipeline/output-dir.js";
import type { ImageAccounts } from "../stages/mkrootfs/accounts.js";
import { readCollectedFile } from "../stages/collect/result.js";

export type { PipelineOptions, PipelinePhase } from "./pipeline/options.js";
export type { PipelineResult, PipelineMetrics } from "./pipeline/result.js";
export { PipelineError, PipelineOptionError } from "./pipeline/errors.js";

/** collect's phases → the run's. */
const RUN_PHASES: Partial<Record<string, PipelinePhase>> = { listening: "boot", running: "run", exited: "collect" };
const PHASE_MESSAGES: Record<string, string> = {
  listening: "booting the VM",
  connected: "guest connected",
  ready: "guest ready, starting the command",
  running: "command running",
  exited: "command exited, collecting output files",
};

export async function runPipeline(options: PipelineOptions): Promise<PipelineResult> {
  const started = performance.now();
  const o = checkOptions(options);
  locateImage(o.image); // a missing local image is reported before anything else
  const kernel = o.kernel ?? findKernel();
  const progress = (message: string) => options.onProgress?.(message);
  const hooks = {
    signal: options.signal,
    onProgress: (stage: string, fraction: number | null, message: string) =>
      progress(`${stage}: ${message}${fraction === null ? "" : ` (${Math.round(fraction * 100)}%)`}`),
    onLog: (stage: string, level: "debug" | "info" | "warn", message: string) => options.onLog?.(stage, level, message),
  };

  const pvmHost = isNestedPvmHost();

  const workdir = createWorkdir(o);
  let madeOutputDirs: string[] = [];
  let finished = false;
  try {
    // Made before the run, so that a directory we cannot write is reported now, not after it.
    if (o.outputDir !== undefined) {
      madeOutputDirs = makeOutputDir(o.outputDir);
      for (const path of o.outputs) {
        const problem = outputPlaceProblem(o.outputDir, path);
        if (problem) throw new PipelineOptionError("outputDir", o.outputDir, problem);
      }
    }
    options.onPhase?.("prepare");
    progress("preparing the root image");
    const root = await prepareRootImage(o.image, o.rootfs, o.diskMiB, workdir, hooks, o.registry);
    const job = jobFor(o, root.runConfig);
    checkUser(o, job.user, root.accounts);

    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const vm = await runVm({
      kernel,
      rootImage: { path: root.path, fs: root.fs },
      job,
      vcpus: o.vcpus,
      ...(o.cpus ? { cpus: o.cpus } : {}),
      ...(o.quietCpus ? { quietCpus: true } : {}),
      memoryMiB: o.memoryMiB,
      timeoutMs: o.timeoutMs,
      bootTimeoutMs: o.bootTimeoutMs,
      keyHex: newRunKey().toString("hex"),
      pvmHost,
    }, workdir, {
      ...hooks,
      onOutput: (stream, data) => {
        (stream === "stdout" ? stdout : stderr).push(data);
        (stream === "stdout" ? options.onStdout : options.onStderr)?.(data);
      },
      onPhase: (phase) => {
        const runPhase = RUN_PHASES[phase];
        if (runPhase) options.onPhase?.(runPhase);
        const message = PHASE_MESSAGES[phase];
        if (message) progress(message);
      },
    });

    // Cancelled: what the stopped stages reported is a consequence, not a result.
    options.signal?.throwIfAborted();
    const c = vm.collect;
    const vmFailure = runnerFailure(c, vm.boot, vm.bootError);
    const outputs: Record<string, Buffer | null> = {};
    const savedOutputs: Record<string, string> = {};
    // A file that cannot be saved (disk full) fails the run, but what it produced is still returned.
    let saveFailure: string | undefined;
    const notReturned: Record<string, string> = {};
    for (const file of c.files) {
      // Read as root from the directory collect wrote: checked to be a regular file there, never a symlink's target.
      let unreadable: string | undefined;
      try {
        outputs[file.guestPath] = file.status === "present" && file.hostPath !== null ? readCollectedFile(file, vm.outputDir, job.maxFileBytes) : null;
      } catch (err) {
        outputs[file.guestPath] = null;
        unreadable = describeError(err);
      }
      if (outputs[file.guestPath] === null) notReturned[file.guestPath] = unreadable ?? file.error ?? whyNotReturned(file.status);
      if (unreadable !== undefined) saveFailure ??= unreadable;
      if (file.error !== undefined) saveFailure ??= file.error;
    }
    for (const path of o.outputs) {
      if (path in outputs) continue;
      outputs[path] = null;
      notReturned[path] = whyNotReturned("not-received");
    }
    if (o.outputDir) {
      for (const path of o.outputs) {
        try {
          const saved = saveOutput(o.outputDir, path, outputs[path] ?? null);
          if (saved !== null) savedOutputs[path] = saved;
        } catch (err) {
          saveFailure ??= (err as Error).message;
        }
      }
    }
    const failure = vmFailure ?? saveFailure;

    const result: PipelineResult = {
      status: statusFor(c, failure),
      exitCode: c.exitCode,
      signal: c.signal,
      timedOut: c.timedOut,
      stdout: Buffer.concat(stdout),
      stderr: Buffer.concat(stderr),
      truncated: { stdout: c.truncated.stdout, stderr: c.truncated.stderr, outputs: c.files.filter((f) => f.truncated).map((f) => f.guestPath) },
      outputs,
      notReturned,
      savedOutputs,
      metrics: {
        wallMs: Math.round(performance.now() - started),
        prepareMs: root.prepareMs,
        bootMs: c.metrics.bootMs === null ? null : Math.round(c.metrics.bootMs),
        runMs: c.metrics.runMs,
        userMs: c.metrics.userMs,
        sysMs: c.metrics.sysMs,
        maxRssKiB: c.metrics.maxRssKiB,
        transport: c.metrics.transport,
        kernelBootMs: vm.boot?.bootMs ?? null,
        vmMs: vm.boot?.wallMs ?? null,
      },
      image: { digest: root.runConfig.digest, cached: root.cached, ...(root.reference ? { reference: root.reference } : {}) },
      guestError: c.guestError,
      forgedFrames: c.forgedFrames,
      vm: vm.boot ? vmEnding(vm.boot, vm.stoppedAfterCollect, vmFailure) : null,
    };
    if (failure !== undefined) result.error = failure;
    if (o.keep) result.runDir = workdir.path;
    finished = true;
    return result;
  } catch (err) {
    if (err instanceof PipelineError || options.signal?.aborted) throw err;
    throw new PipelineError(describeError(err), { cause: err });
  } finally {
    workdir.dispose();
    if (!finished) removeMadeDirectories(madeOutputDirs);
  }
}

function makeOutputDir(dir: string): string[] {
  try {
    return makeDirectory(dir);
  } catch (err) {
    throw new PipelineOptionError("outputDir", dir, (err as Error).message);
  }
}

function findKernel(): string {
  try {
    return locateKernel();
  } catch (err) {
    throw new PipelineError((err as Error).message);
  }
}

function createWorkdir(o: CheckedOptions): RunWorkdir {
  try {
    // Run directories of runners that were killed outright (SIGKILL) go now.
    sweepStaleRuns(o.workRoot ?? defaultWorkRoot());
    return RunWorkdir.create({ root: o.workRoot, keep: o.keep });
  } catch (err) {
    throw new PipelineError(describeError(err));
  }
}

/** A user the image lacks is refused now, not by guest-init after a boot. */
function checkUser(o: CheckedOptions, user: string, accounts: ImageAccounts | undefined): void {
  const problem = userSpecProblem(user, accounts);
  if (problem === undefined) return;
  if (o.user !== undefined) throw new PipelineOptionError("user", o.user, problem);
  throw new PipelineError(`${o.image}: the image's user ${JSON.stringify(user)}: ${problem}`);
}

/** The job guest-init runs: Docker's rules over the image's config and the caller's overrides. */
function jobFor(o: CheckedOptions, image: Parameters<typeof resolveRunSpec>[0]): CollectJob {
  let spec;
  try {
    spec = resolveRunSpec(image, { entrypoint: o.entrypoint, cmd: o.cmd, env: o.env, workingDir: o.workdir, user: o.user });
  } catch (err) {
    throw new PipelineError(`${o.image}: ${(err as Error).message}`);
  }
  return {
    ...spec,
    outputPaths: o.outputs,
    rootfsType: o.rootfs,
    maxOutputBytes: o.maxOutputBytes,
    maxFileBytes: o.maxOutputBytes,
  };
}
