// The collect executable speaks the stage protocol (lib/ipc) the way the
// coordinator runs it (unprivileged, in a user namespace): the guest's output
// streams as log events while the run goes on, the result follows.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { callStage } from "../../../lib/ipc/call.js";
import { projectRoot } from "../../../lib/paths.js";
import { newRunKey } from "../../../lib/guest-protocol/job.js";
import type { CollectResult } from "../../../stages/collect/collect.js";
import { outputEventLines, parseStageEvent, phaseEventLine, type CollectStageEvent } from "../../../stages/collect/stage-events.js";
import { isRoot, makeRootfs, socketDir, socketPathIn, startGuestInit, type GuestInitProcess } from "./harness.js";

const main = join(projectRoot, "dist/stages/collect/main.js");
const dir = socketDir();
chmodSync(dir, 0o777); // the unprivileged stage creates its socket here
let root = "";
test.before(() => {
  if (isRoot) root = makeRootfs();
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  if (root) rmSync(root, { recursive: true, force: true });
});

function startStage() {
  const argv = isRoot
    ? ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", "unshare", "--user", "--map-root-user", process.execPath, main]
    : [process.execPath, main];
  return spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
}

test("stage events: output lines round-trip byte for byte, large chunks split under the text limit", () => {
  const big = Buffer.alloc(200_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const lines = outputEventLines("stderr", big);
  assert.ok(lines.length > 1);
  for (const l of lines) assert.ok(l.length <= 64 * 1024);
  const back = lines.map((l) => parseStageEvent("debug", l) as Extract<CollectStageEvent, { kind: "output" }>);
  assert.ok(back.every((e) => e.kind === "output" && e.stream === "stderr"));
  assert.ok(Buffer.concat(back.map((e) => e.data)).equals(big));
  assert.equal(parseStageEvent("debug", phaseEventLine("running", 1234)), { kind: "phase", phase: "running", atMs: 1234 });
  assert.is(parseStageEvent("info", lines[0]!), null, "only debug lines carry events");
  assert.is(parseStageEvent("debug", "an ordinary log line"), null);
  assert.is(parseStageEvent("debug", "bencher-collect:phase:bogus:1"), null);
});

if (isRoot) {
  test("the stage runs a job unprivileged: output streams as events, the result follows", async () => {
    const socketPath = socketPathIn(dir);
    const events: CollectStageEvent[] = [];
    const progress: string[] = [];
    let guest: GuestInitProcess | null = null;
    const result = await callStage<CollectResult>(startStage(), {
      socketPath,
      keyHex: newRunKey().toString("hex"),
      job: { argv: ["sh", "-c", "printf 'out\\377'; echo err >&2; exit 2"], env: ["PATH=/bin"] },
      timeoutMs: 20_000,
    }, {
      stage: "collect",
      onProgress: (_f, message) => progress.push(message),
      onLog: (level, message) => {
        const event = parseStageEvent(level, message);
        if (!event) return;
        events.push(event);
        if (event.kind === "phase" && event.phase === "listening") guest = startGuestInit(socketPath, root);
      },
    });
    await (guest as GuestInitProcess | null)?.exited;
    assert.ok(result.complete, result.error);
    assert.is(result.exitCode, 2);
    assert.equal(result.outputBytes, { stdout: 4, stderr: 4 });
    assert.is(Buffer.from(result.stdout).length, 0, "the bytes came as events, not twice");
    const out = Buffer.concat(events.flatMap((e) => (e.kind === "output" && e.stream === "stdout" ? [e.data] : [])));
    assert.ok(out.equals(Buffer.from([0x6f, 0x75, 0x74, 0xff])));
    assert.equal(events.filter((e) => e.kind === "phase").map((e) => (e as { phase: string }).phase), ["listening", "connected", "ready", "running", "exited", "done"]);
    assert.ok(progress.includes("command running"));
    assert.not.ok(existsSync(socketPath));
  });

  test("stopped by the coordinator (SIGTERM: the VM is gone), the stage still answers with what arrived", async () => {
    const socketPath = socketPathIn(dir);
    const controller = new AbortController();
    let guest: GuestInitProcess | null = null;
    const result = await callStage<CollectResult>(startStage(), {
      socketPath,
      job: { argv: ["sh", "-c", "echo partial; sleep 30"], env: ["PATH=/bin"] },
    }, {
      stage: "collect",
      signal: controller.signal,
      onLog: (level, message) => {
        const event = parseStageEvent(level, message);
        if (event?.kind === "phase" && event.phase === "listening") guest = startGuestInit(socketPath, root);
        if (event?.kind === "output") controller.abort();
      },
    });
    (guest as GuestInitProcess | null)?.child.kill("SIGKILL");
    assert.not.ok(result.complete);
    assert.is(result.outputBytes.stdout, 8);
    assert.match(result.error!, /stopped before the guest's DONE \(collect stopped by SIGTERM\)/);
  });
}

test("a bad request is a one-line stage error naming the field", async () => {
  await callStage(startStage(), { socketPath: "relative/path", job: { argv: ["x"] } }, { stage: "collect" }).then(
    () => assert.unreachable("should fail"),
    (err: Error) => assert.is(err.message, 'collect request: socketPath must be an absolute path, got "relative/path"'),
  );
  await callStage(startStage(), { socketPath: "/tmp/x_1", job: { argv: [] } }, { stage: "collect" }).then(
    () => assert.unreachable("should fail"),
    (err: Error) => assert.is(err.message, "collect request: job.argv is empty: nothing to run"),
  );
  await callStage(startStage(), { socketPath: "/tmp/x_1", keyHex: "abc", job: { argv: ["x"] } }, { stage: "collect" }).then(
    () => assert.unreachable("should fail"),
    (err: Error) => assert.is(err.message, "collect request: keyHex must be 64 hex digits"),
  );
});

test.run();
