// The CLI's stage call (bencher-run unpack/mkrootfs/boot/collect) checks the
// result of a compromised stage, run through the real sandboxed call path:
// a null body or an escape sequence is the stage's one-line error, never a
// TypeError or raw bytes on the user's terminal.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { callSandboxedStage } from "../../../bin/cli/stage-call.js";
import { createReporter } from "../../../bin/cli/progress.js";
import { describeError } from "../../../lib/ipc/errors.js";
import { giveToStage } from "../../../lib/sandbox/stage-identity.js";
import { parseUnpackResult } from "../../../stages/unpack/result.js";

const hostile = fileURLToPath(new URL("../pipeline/fixtures/hostile-stage.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "stage-call-"));
giveToStage(work);
test.after(() => rmSync(work, { recursive: true, force: true }));

async function unpackAnswering(body: unknown): Promise<string> {
  try {
    const r = await callSandboxedStage("unpack", {}, { writable: [work], command: [process.execPath, hostile, JSON.stringify(body)] },
      createReporter(), (raw) => parseUnpackResult(raw, work));
    return `accepted ${JSON.stringify(r)}`;
  } catch (err) {
    return describeError(err);
  }
}

test("a null result is the stage's one-line error, not a TypeError", async () => {
  assert.is(await unpackAnswering(null), "unpack: invalid result: result must be an object");
});

test("an escape sequence in a printed field is refused", async () => {
  const body = {
    rootfs: join(work, "rootfs"), metadata: join(work, "metadata.jsonl"), config: join(work, "config.json"),
    digest: "\u001b]0;owned\u0007", layers: 1, files: 1, bytes: 1,
  };
  assert.is(await unpackAnswering(body), "unpack: invalid result: digest must not contain control characters");
});

test.run();
