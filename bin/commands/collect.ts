// bencher-run collect: the host side of the guest protocol. Listens on the
// vsock Unix socket the VMM connects to (start it before `boot`), sends the
// job, and brings back stdout, stderr, exit status and output files.
import { defineCommand } from "citty";
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { MAX_BOOT_TIMEOUT_MS, MAX_TIMEOUT_MS, parseCollectJob, type CollectRequest } from "../../stages/collect/request.js";
import type { CollectResult } from "../../stages/collect/collect.js";
import { parseStageEvent } from "../../stages/collect/stage-events.js";
import { commonArgs } from "../cli/common-args.js";
import { callSandboxedStage } from "../cli/stage-call.js";
import { parseCollectResult } from "../../stages/collect/result.js";
import { createReporter } from "../cli/progress.js";
import { printResult } from "../cli/output.js";
import { abandonOutputDir, inputPath, outputDir, releaseOutputDir, wholeNumberIn, type OutputDir } from "../cli/paths.js";
import { removeSocketAndDir, socketPath } from "../cli/socket-dir.js";
import { CommandError, CommandLineError } from "../cli/command-error.js";
import { interruptedBy, interruptExitCode } from "../../lib/workdir/interrupts.js";
import { exitStatusFor } from "../../stages/collect/exit-status.js";
import { giveToStage } from "../../lib/sandbox/stage-identity.js";

/** Reads the job description: a JSON object as in CollectRequest.job (argv, env, workingDir, user, outputPaths, ...). */
function readJob(file: string): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new CommandError(`--job ${file}: ${(err as Error).message}`);
  }
  try {
    parseCollectJob(raw); // checked here too, so the error names the file
  } catch (err) {
    throw new CommandError(`--job ${file}: ${(err as Error).message.replace(/^collect request: /, "").replace(/^job\./, "")}`);
  }
  return raw;
}

function readKey(file: string): string {
  const key = readFileSync(inputPath("key-file", file, "file"), "utf8").trim();
  if (!/^[0-9a-fA-F]{64}$/.test(key)) throw new CommandError(`--key-file ${file}: expected 64 hex digits`);
  return key;
}

export default defineCommand({
  meta: { name: "collect", description: "Collect a guest's results (stdout, stderr, exit code, files, timings) over the VM's vsock socket; start it before or after boot --wait-for" },
  args: {
    socket: { type: "string", required: true, description: "Unix socket to listen on: <boot's vsock base>_<port> (port 1024 by default), in a new or empty directory", valueHint: "path" },
    job: { type: "string", required: true, description: "JSON file: {argv, env, workingDir, user, outputPaths, rootfsType, ...}", valueHint: "file" },
    out: { type: "string", description: "Directory for stdout, stderr and files/ (without it the guest's output streams to this process's stdout/stderr)", valueHint: "dir" },
    "console-log": { type: "string", description: "The serial console log boot writes (for diagnostics)", valueHint: "file" },
    "key-file": { type: "string", description: "File holding the run key (64 hex digits) the guest signs its frames with", valueHint: "file" },
    timeout: { type: "string", description: "Limit on the command's run time, in seconds", valueHint: "s" },
    "boot-timeout": { type: "string", description: "Give up if the command has not started after this many seconds (default 300)", valueHint: "s" },
    json: commonArgs.json,
    verbose: commonArgs.verbose,
  },
  async run({ args }) {
    if (args.json && !args.out) throw new CommandLineError("--json needs --out (stdout carries the manifest, the guest's output goes to files)");
    // Everything that can be refused is checked before anything is made.
    const job = readJob(inputPath("job", args.job, "file"));
    const consoleLog = args["console-log"] ? resolve(args["console-log"]) : undefined;
    const consoleDir = consoleLog ? inputPath("console-log", dirname(consoleLog), "dir") : undefined;
    const timeoutS = wholeNumberIn("timeout", args.timeout, 1, MAX_TIMEOUT_MS / 1000);
    const bootTimeoutS = wholeNumberIn("boot-timeout", args["boot-timeout"], 1, MAX_BOOT_TIMEOUT_MS / 1000);
    const keyHex = args["key-file"] ? readKey(args["key-file"]) : undefined;
    // The socket's directory is the stage's (and boot's) to write in: a new one, or one holding only sockets, never a shared one like /tmp.
    const sockets = socketPath("socket", args.socket);
    let out: OutputDir | undefined;
    try {
      out = args.out ? outputDir("out", args.out) : undefined;
    } catch (err) {
      removeSocketAndDir(sockets);
      throw err;
    }

    const request: Record<string, unknown> = { socketPath: sockets.path, job };
    if (consoleLog && consoleDir) request.consoleLog = join(consoleDir, basename(consoleLog));
    if (timeoutS) request.timeoutMs = timeoutS * 1000;
    if (bootTimeoutS) request.bootTimeoutMs = bootTimeoutS * 1000;
    if (keyHex) request.keyHex = keyHex;

    let streams: { stdout: WriteStream; stderr: WriteStream } | null = null;
    try {
      if (out) {
        mkdirSync(join(out.path, "files"), { mode: 0o755 });
        giveToStage(join(out.path, "files"));
        request.outputDir = join(out.path, "files");
        streams = { stdout: createWriteStream(join(out.path, "stdout")), stderr: createWriteStream(join(out.path, "stderr")) };
      }
      const sink = streams ?? { stdout: process.stdout, stderr: process.stderr };
      const result = await callSandboxedStage<CollectResult>("collect", request as unknown as CollectRequest, {
        readOnly: consoleDir ? [consoleDir] : [],
        writable: [sockets.dir, ...(out ? [join(out.path, "files")] : [])],
      }, createReporter({ verbose: args.verbose }), (raw) => parseCollectResult(raw, {
        outputPaths: parseCollectJob(job).outputPaths,
        ...(request.outputDir !== undefined ? { outputDir: request.outputDir as string } : {}),
      }), {
        interceptLog: (level, message) => {
          const event = parseStageEvent(level, message);
          if (event?.kind === "output") sink[event.stream].write(event.data);
          return event !== null;
        },
      });
      if (streams) await Promise.all([closeStream(streams.stdout), closeStream(streams.stderr)]);
      if (out) releaseOutputDir(out); // the guest's files, written by the stage's uid, are the caller's
      removeSocketAndDir(sockets);
      const { stdout: _stdout, stderr: _stderr, ...manifest } = result;
      const summary = `collected: exit code ${result.exitCode ?? "none"}${result.signal ? `, signal ${result.signal}` : ""}${result.timedOut ? " (timed out)" : result.complete ? "" : " (incomplete)"}${result.error ? `: ${result.error}` : ""}`;
      if (out) {
        printResult(args.json ?? false, { stage: "collect", out: out.path, stdout: join(out.path, "stdout"), stderr: join(out.path, "stderr"), ...manifest }, [summary]);
      } else {
        process.stderr.write(`bencher-run: ${summary}\n`);
      }
      // As `pipeline` exits: the command's status, 124 after --timeout, 125 when the run failed, 128+n when interrupted.
      const signal = interruptedBy();
      process.exitCode = signal ? interruptExitCode(signal) : exitStatusFor(result);
    } catch (err) {
      streams?.stdout.destroy();
      streams?.stderr.destroy();
      if (out) abandonOutputDir(out);
      removeSocketAndDir(sockets);
      throw err;
    }
  },
});

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

