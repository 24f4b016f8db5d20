// Embedding one stage in a program of your own (a scheduler), here unpack:
// the stage runs in the same sandbox as under the CLI, and its progress, log
// lines and result come back as values. Run after `npm run build`:
//   node dist/examples/embed-unpack.js IMAGE OUT
// IMAGE is an OCI layout or an image archive on this host (a registry
// reference needs `network: true` and no bind); OUT must not exist yet.
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { describeError } from "../lib/ipc/errors.js";
import { runSandboxed } from "../lib/sandbox/run-sandboxed.js";
import { stageSandboxSpec } from "../lib/sandbox/stage-policy.js";
import { giveToStage } from "../lib/sandbox/stage-identity.js";
import type { UnpackRequest } from "../stages/unpack/request.js";
import type { UnpackResult } from "../stages/unpack/unpack.js";

const [image, out] = process.argv.slice(2).map((arg) => resolve(arg));
if (!image || !out) {
  console.error("usage: node dist/examples/embed-unpack.js IMAGE OUT");
  process.exit(2);
}

// The stage sees only what it is given: the image read-only, OUT writable.
// Run as root, stages run as uid 65534, which must own what they write.
mkdirSync(out);
giveToStage(out);
const request: UnpackRequest = { image, out };
const stop = new AbortController(); // abort() stops the stage (SIGTERM) and rejects the call
process.once("SIGINT", () => stop.abort());

try {
  const result = await runSandboxed<UnpackResult>(stageSandboxSpec("unpack", { readOnly: [image], writable: [out] }), request, {
    signal: stop.signal,
    onProgress: (fraction, message) => console.error(`progress ${fraction === null ? "-" : Math.round(fraction * 100) + "%"} ${message}`),
    onLog: (level, message) => console.error(`${level} ${message}`),
  });
  console.log(JSON.stringify(result));
} catch (err) {
  // A StageError chain: describeError() makes it the one line the CLI would print.
  console.error(`embed-unpack: ${describeError(err)}`);
  rmSync(out, { recursive: true, force: true });
  process.exitCode = 1;
}
