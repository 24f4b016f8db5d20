// bencher-run pipeline: image → unpack → mkrootfs → boot → collect, behaving
// like `docker run` at a terminal: the guest's stdout and stderr stream to
// ours byte for byte, and we exit with the command's status (128+N on signal
// N, 124 on timeout, 126/127 when it cannot be executed, 125 when the runner
// failed). --json prints one JSON document instead (README: "The --json document").
import { defineCommand } from "citty";
import { interruptedBy, interruptSignal } from "../../lib/workdir/interrupts.js";
import { runPipeline, PipelineError, PipelineOptionError, type PipelineResult } from "../pipeline-run.js";
import { describeOptionError, optionsForRun, parsePipelineArgs, UsageError, type PipelineCliArgs } from "../pipeline/cli-args.js";
import { JSON_SCHEMA_VERSION, toJsonDocument } from "../pipeline/json-document.js";
import { TerminalProgress } from "../pipeline/terminal-progress.js";
import { CommandError } from "../cli/command-error.js";
import { badPath } from "../cli/path-options.js";
import { AUTHFILE_HELP } from "../../lib/oci/auth-file.js";
import { RUNNER_FAILURE_EXIT_STATUS } from "../../stages/collect/exit-status.js";
import { MAX_MEMORY_MIB } from "../../stages/boot/limits.js";

/** Console lines shown after a runner failure: enough for a panic's first lines or a guest-init message. */
const CONSOLE_LINES = 12;

/** The stderr lines that explain a status the command's own output does not (timeout, runner failure, truncation). */
export function statusNotes(r: PipelineResult, timeoutSec: number | undefined): string[] {
  const notes: string[] = [];
  if (r.error !== undefined) {
    notes.push(r.error);
    // The run directory, console log included, is gone: what the guest printed last is the lead to follow,
    // unless guest-init itself said why it could not run the command (a bad --workdir): the kernel's lines are noise then.
    const tail = r.guestError === null ? consoleLines(r.vm?.consoleTail) : [];
    if (tail.length) notes.push(`the guest's console, last ${tail.length} lines:`, ...tail.map((line) => `  | ${line}`));
  } else if (r.timedOut) notes.push(`the command timed out after ${timeoutSec ?? "?"} s and was stopped`);
  else if (r.guestError !== null) notes.push(r.guestError);
  if (r.truncated.stdout) notes.push("stdout was cut short at --max-output-size");
  if (r.truncated.stderr) notes.push("stderr was cut short at --max-output-size");
  for (const path of r.truncated.outputs) notes.push(`output file ${path} was cut short`);
  // After a command that ran to its end (otherwise the note above says why nothing came).
  if (r.error === undefined && !r.timedOut && r.guestError === null) {
    for (const [path, why] of Object.entries(r.notReturned)) notes.push(`output file ${path} was not brought back: ${why}`);
  }
  if (r.runDir) notes.push(`run directory kept: ${r.runDir}`);
  return notes;
}

/** The last lines of the console tail worth showing (the tail starts mid-line: its first line is dropped). */
function consoleLines(tail: string | undefined, max = CONSOLE_LINES): string[] {
  if (!tail) return [];
  const lines = tail.replace(/\r/g, "").split("\n").slice(1).filter((line) => line.trim() !== "");
  return lines.slice(-max);
}

async function runOnce(cli: PipelineCliArgs, run: number, progress: TerminalProgress): Promise<PipelineResult> {
  const streaming = !cli.json;
  return runPipeline({
    ...optionsForRun(cli, run),
    signal: interruptSignal(),
    onStdout: streaming ? (chunk) => (progress.clear(), process.stdout.write(chunk)) : undefined,
    onStderr: streaming ? (chunk) => (progress.clear(), process.stderr.write(chunk)) : undefined,
    onProgress: (message) => progress.show(message),
    onPhase: (phase) => {
      if (phase === "run") progress.stop();
    },
    onLog: (stage, level, message) => {
      if (level === "warn" || (cli.verbose && level === "info")) {
        progress.clear();
        process.stderr.write(`bencher-run: ${stage}: ${level === "warn" ? "warning: " : ""}${message}\n`);
      }
    },
  });
}

/** pipeline's options, for --help and the path checks its own parser (bin/pipeline/cli-args.ts) leaves to bin/cli/path-options.ts. */
const PIPELINE_ARGS = {
  image: { type: "string", description: "OCI layout dir, OCI/docker archive, or registry reference", valueHint: "image" },
  timeout: { type: "string", description: "Stop the command after this many seconds (exit 124); boot does not count", valueHint: "s" },
  "boot-timeout": { type: "string", description: "Give up if the guest has not started the command after this many seconds (default 300; 1200 on nested PVM hosts)", valueHint: "s" },
  vcpus: { type: "string", description: "Virtual CPUs (default 1)", valueHint: "n" },
  cpus: { type: "string", description: "Pin vCPU i to host CPU LIST[i % n] (e.g. 1, 2-3, 1,3); the VMM's other threads keep off them", valueHint: "LIST" },
  "quiet-cpus": { type: "boolean", description: "Steadier timings: vCPU 0 keeps the guest kernel's housekeeping, the command runs on the other vCPUs with no timer tick (needs --vcpus 2 or more; the command sees one CPU fewer)" },
  memory: { type: "string", description: `Guest memory in MiB (default 256; up to ${MAX_MEMORY_MIB} and what the host has available)`, valueHint: "MiB" },
  disk: { type: "string", description: "Root disk size in MiB (ext4; default: content plus headroom)", valueHint: "MiB" },
  env: { type: "string", description: "KEY=VALUE over the image's env; KEY alone passes ours, or removes the image's if we have none (repeatable; -e)", valueHint: "KEY[=VALUE]" },
  workdir: { type: "string", description: "Working directory in the guest (-w)", valueHint: "path" },
  user: { type: "string", description: "User in the guest: name, uid, name:group, uid:gid (-u; empty: the image's USER)", valueHint: "user" },
  output: { type: "string", description: "A file in the guest to bring back (repeatable)", valueHint: "path" },
  "output-dir": { type: "string", description: "Where to save the --output files (created if missing; with --iter N, run i's in DIR/run-i)", valueHint: "dir" },
  "max-output-size": { type: "string", description: "Bytes kept per stream and per output file (K, M, G suffixes; default and most 1G: results are held in memory); the rest is dropped", valueHint: "bytes" },
  kernel: { type: "string", description: "Guest kernel (default: the built one)", valueHint: "file" },
  "registry-ca": { type: "string", description: "PEM file of CA certificates to trust for the registry's HTTPS, besides the usual ones", valueHint: "file" },
  authfile: { type: "string", description: AUTHFILE_HELP, valueHint: "file" },
  "plain-http": { type: "boolean", description: "Talk plain HTTP to the registry (default: only to a loopback registry, and not with --registry-ca); --no-plain-http: HTTPS even on loopback" },
  rootfs: { type: "string", description: "Root file system: ext4 (writable, default) or squashfs (read-only)", valueHint: "ext4|squashfs" },
  iter: { type: "string", description: "Run the command N times, each in a fresh VM, and report each (files: --output-dir/run-i/)", valueHint: "n" },
  keep: { type: "boolean", description: "Keep the run directory (console log, overlay) for debugging" },
  json: { type: "boolean", description: "Print one JSON document (stdout, stderr, exit status, outputs, metrics) instead of streaming" },
  verbose: { type: "boolean", description: "Also print the stages' info logs on stderr" },
  "work-root": { type: "string", description: "Root of the run directories (default: $BENCHER_RUN_WORKDIR or ~/.cache/bencher-run/runs)", valueHint: "dir" },
  entrypoint: { type: "string", description: "ARG...: replaces the image's ENTRYPOINT (and its CMD; '' clears it); may be followed by --cmd ARG...", valueHint: "ARG..." },
  cmd: { type: "string", description: "ARG...: replaces the image's CMD (also: -- ARG...)", valueHint: "ARG..." },
} as const;

export default defineCommand({
  meta: {
    name: "pipeline",
    description: "Run a benchmark image in a fresh VM like `docker run`: its output on stdout/stderr, its exit status as ours. Options go before --entrypoint/--cmd, which take the rest of the arguments",
  },
  args: PIPELINE_ARGS,
  async run({ rawArgs }) {
    let cli: PipelineCliArgs;
    try {
      cli = parsePipelineArgs(rawArgs);
    } catch (err) {
      if (err instanceof UsageError) throw new CommandError(`${err.message} (see bencher-run pipeline --help)`, RUNNER_FAILURE_EXIT_STATUS);
      throw err;
    }
    // Its paths as the other commands' are checked (bin/cli/path-options.ts): empty, or not UTF-8.
    const pathProblem = badPath(PIPELINE_ARGS, Object.fromEntries(Object.entries(cli.typed).map(([flag, value]) => [flag.slice(2), value])));
    if (pathProblem !== undefined) throw new CommandError(pathProblem, RUNNER_FAILURE_EXIT_STATUS);
    const progress = new TerminalProgress(process.stderr);
    const results: PipelineResult[] = [];
    let status = 0;
    for (let i = 1; i <= cli.iter; i++) {
      progress.restart();
      let result: PipelineResult;
      try {
        result = await runOnce(cli, i, progress);
      } catch (err) {
        progress.clear();
        // Interrupted in run i of N: the runs that finished are still reported (and the interrupt named), so a script loses none of them.
        const signal = interruptedBy();
        if (signal && cli.json && cli.iter > 1 && results.length > 0) printJsonDocument(results, cli.iter, signal);
        if (err instanceof PipelineOptionError) throw new CommandError(describeOptionError(err, cli.typed), RUNNER_FAILURE_EXIT_STATUS);
        if (err instanceof PipelineError) throw new CommandError(err.message, RUNNER_FAILURE_EXIT_STATUS);
        throw err;
      }
      progress.clear();
      results.push(result);
      if (status === 0) status = result.status;
      if (!cli.json) {
        for (const note of statusNotes(result, cli.options.timeoutSec)) process.stderr.write(`bencher-run: ${note}\n`);
        if (cli.iter > 1) {
          const m = result.metrics;
          process.stderr.write(`bencher-run: run ${i}/${cli.iter}: status ${result.status}, boot ${m.bootMs ?? "-"} ms, command ${m.runMs === null ? "-" : Math.round(m.runMs)} ms, wall ${m.wallMs} ms\n`);
        }
      }
      if (result.error !== undefined) break; // the runner failed: the next run would too
    }
    if (cli.json) printJsonDocument(results, cli.iter);
    process.exitCode = status;
  },
});

/** The --json document: one run's, or with --iter N above 1 every run's (and, when it was cut short, the signal that did it). */
function printJsonDocument(results: PipelineResult[], iter: number, interrupted?: NodeJS.Signals): void {
  const docs = results.map(toJsonDocument);
  const doc = iter > 1 ? { schema: JSON_SCHEMA_VERSION, runs: docs, ...(interrupted ? { interrupted } : {}) } : docs[0];
  process.stdout.write(JSON.stringify(doc) + "\n");
}
