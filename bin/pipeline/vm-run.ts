// One VM run: the boot stage starts beside collect and sets its VM up at
// once, holding the vCPUs until collect's vsock socket exists; the guest
// connects, runs the job and sends back its output. Whichever of
// the two ends first ends the other: collect finishing (done, timed out,
// guest gone) stops the VM, and a VM that stops (reset, crash, deadline)
// tells collect to take a last look at the console and report what arrived.
import { closeSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootRequest } from "../../stages/boot/request.js";
import type { BootResult } from "../../stages/boot/boot.js";
import type { CollectJob, CollectRequest } from "../../stages/collect/request.js";
import { DEFAULT_VSOCK_PORT, vsockSocketPath } from "../../stages/collect/request.js";
import type { CollectPhase, CollectResult } from "../../stages/collect/collect.js";
import { parseStageEvent } from "../../stages/collect/stage-events.js";
import { guestInitramfs } from "../../guest-init/initramfs.js";
import { describeError } from "../../lib/ipc/errors.js";
import type { RunWorkdir } from "../../lib/workdir/run-workdir.js";
import { KVM_FD_IN_STAGE, openKvmDevice } from "./kvm-device.js";
import { PipelineError } from "./errors.js";
import { runStage, type StageHooks } from "./stage-runner.js";
import { parseCollectResult } from "../../stages/collect/result.js";
import { parseBootResult } from "../../stages/boot/result.js";

export interface VmRunRequest {
  kernel: string;
  rootImage: { path: string; fs: "ext4" | "squashfs" };
  job: CollectJob;
  vcpus: number;
  /** Host CPUs for the vCPU threads (BootRequest.cpus). */
  cpus?: number[];
  /** BootRequest.quietCpus: the command on tickless vCPUs 1..n-1. */
  quietCpus?: boolean;
  memoryMiB: number;
  timeoutMs: number | undefined;
  bootTimeoutMs: number;
  /** The run key (64 hex digits): the guest signs its frames with it. */
  keyHex: string;
  pvmHost: boolean;
}

export interface VmRunHooks extends StageHooks {
  onOutput?(stream: "stdout" | "stderr", data: Buffer): void;
  onPhase?(phase: CollectPhase, atMs: number): void;
}

export interface VmRunOutcome {
  collect: CollectResult;
  /** Null when the boot stage itself failed (bootError says why). */
  boot: BootResult | null;
  bootError?: string;
  /** The runner stopped the VM because collect had finished (the usual end: it does not wait for the guest's reset). */
  stoppedAfterCollect: boolean;
  /** Where collect saved the output files. */
  outputDir: string;
  consoleLog: string;
}

/** After the command's time limit and the boot deadline: room for output files and the last frames. */
const VM_DEADLINE_MARGIN_MS = 120_000;
/** The boot stage accepts at most a day. */
const MAX_VM_MS = 24 * 3600 * 1000;
/** When no time limit is set the VM still has one (a guest that hangs is reported, not waited on forever by the VMM). */
const NO_LIMIT_VM_MS = 20 * 3600 * 1000;

export async function runVm(req: VmRunRequest, workdir: RunWorkdir, hooks: VmRunHooks): Promise<VmRunOutcome> {
  const guestDir = workdir.stageDir("guest");
  const bootDir = workdir.stageDir("boot");
  const vsockDir = workdir.stageDir("vsock");
  const outputDir = workdir.stageDir("outputs");
  const initramfs = join(guestDir, "initramfs.cpio");
  try {
    writeFileSync(initramfs, guestInitramfs(), { mode: 0o644 });
  } catch (err) {
    throw new PipelineError(`guest-init: ${describeError(err)}`, { cause: err });
  }
  const consoleLog = join(bootDir, "console.log");
  const udsBase = join(vsockDir, "v");
  const port = DEFAULT_VSOCK_PORT;

  const collectRequest: CollectRequest = {
    socketPath: vsockSocketPath(udsBase, port),
    consoleLog,
    job: req.job,
    bootTimeoutMs: req.bootTimeoutMs,
    stallTimeoutMs: 60_000,
    outputDir,
    keyHex: req.keyHex,
  };
  if (req.timeoutMs !== undefined) collectRequest.timeoutMs = req.timeoutMs;

  const vmMs = Math.min(MAX_VM_MS, req.bootTimeoutMs + (req.timeoutMs ?? NO_LIMIT_VM_MS) + VM_DEADLINE_MARGIN_MS);
  const bootRequest: BootRequest = {
    kernel: req.kernel,
    initramfs,
    cmdline: `bencher.port=${port}`,
    vcpus: req.vcpus,
    memoryMiB: req.memoryMiB,
    disk: req.rootImage.fs === "squashfs" ? { path: req.rootImage.path, readOnly: true } : { path: req.rootImage.path, overlay: join(bootDir, "overlay") },
    vsockUds: udsBase,
    consoleLog,
    holdUntilExists: collectRequest.socketPath,
    timeoutMs: vmMs,
    kvmFd: KVM_FD_IN_STAGE,
    pvmHost: req.pvmHost,
    ...(req.cpus ? { cpus: req.cpus } : {}),
    ...(req.quietCpus ? { quietCpus: true } : {}),
  };

  const kvmFd = openKvmDevice();
  const stopCollect = new AbortController();
  const stopBoot = new AbortController();
  const both = (own: AbortController) => (hooks.signal ? AbortSignal.any([own.signal, hooks.signal]) : own.signal);

  // Resolved when collect listens; rejected when collect ended first.
  let listening!: () => void;
  let neverListened!: (why: Error) => void;
  const isListening = new Promise<void>((resolve, reject) => {
    listening = resolve;
    neverListened = reject;
  });
  isListening.catch(() => {}); // seen by the race below
  const collectDone = runStage<CollectResult>("collect", collectRequest, {
    readOnly: [bootDir],
    writable: [vsockDir, outputDir],
  }, {
    ...hooks,
    signal: both(stopCollect),
    onLog: (stage, level, message) => {
      const event = parseStageEvent(level, message);
      if (!event) return hooks.onLog?.(stage, level, message);
      if (event.kind === "output") hooks.onOutput?.(event.stream, event.data);
      else {
        if (event.phase === "listening") listening();
        hooks.onPhase?.(event.phase, event.atMs);
      }
      return true;
    },
  }, (raw) => parseCollectResult(raw, { outputPaths: req.job.outputPaths, outputDir }));
  // The vCPUs start only once collect's socket exists; a collect stage that fails before that stops the held VM.
  let collectSettled = false;
  const settled = collectDone.then(() => void (collectSettled = true), () => void (collectSettled = true));

  try {
    // The boot stage starts now, beside collect, and gets its request at
    // once, so that its sandbox, Node start-up and VM set-up (together
    // 0.15-0.25 s here) overlap collect's; it holds the vCPUs until
    // collect's socket exists (the guest's first connection then finds a
    // listener).
    let bootError: string | undefined;
    let boot: BootResult | null = null;
    const bootDone = (async () => {
      try {
        boot = await runStage<BootResult>("boot", bootRequest, {
          readOnly: [req.kernel, initramfs, req.rootImage.path],
          writable: [bootDir, vsockDir],
          kvmFd,
          // The VMM's own diagnosis switch (RIP samples, busiest exits) passes through; the sandbox passes no other host env.
          ...(process.env.BENCHER_BOOT_DEBUG ? { env: { BENCHER_BOOT_DEBUG: process.env.BENCHER_BOOT_DEBUG } } : {}),
        }, { ...hooks, signal: both(stopBoot) }, (raw) => parseBootResult(raw, consoleLog));
      } catch (err) {
        bootError = describeError(err);
      } finally {
        // The VM is gone: collect takes a last look at the console and ends with what arrived.
        stopCollect.abort(new Error(boot ? `the VM stopped (${(boot as BootResult).exitReason})` : "the VMM failed"));
      }
    })();

    await Promise.race([isListening, settled]);
    if (collectSettled) {
      neverListened(new Error("the VM was not started"));
      stopBoot.abort(new Error("collect ended before it listened")); // its VM is held, not running
      await bootDone;
      const early = await collectDone; // throws the stage's error if it failed
      return { collect: early, boot: null, bootError: bootError ?? "the VM was not started", stoppedAfterCollect: false, outputDir, consoleLog };
    }
    let collected: CollectResult;
    let stoppedAfterCollect = false;
    try {
      collected = await collectDone;
    } finally {
      stoppedAfterCollect = boot === null && bootError === undefined; // the VM was still running
      stopBoot.abort(new Error("collect finished"));
      await bootDone;
    }
    return { collect: collected, boot, ...(bootError !== undefined ? { bootError } : {}), stoppedAfterCollect, outputDir, consoleLog };
  } finally {
    stopBoot.abort();
    closeSync(kvmFd);
  }
}
