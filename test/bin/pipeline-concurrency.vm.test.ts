// Four pipelines at once on one host, from one process, on the same image
// (so the same cached base image under four copy-on-write overlays): each
// gets exactly its own stdout, stderr, output file and exit code. In the
// emulated KVM host all of it runs on that host's CPU 0: with the VMMs'
// threads on both of its CPUs, its software CPU panicked its own kernel or
// triple-faulted a guest in 7 of 9 tries (four pipelines or two); on one CPU,
// 6 tries of four ran clean (lib/reference/emulated-kvm-host/README.md).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { runPipeline } from "../../bin/pipeline-run.js";
import { EMULATED_HOST_VARIABLE } from "../emulated-host-files.js";
import { setAffinity } from "../../lib/cpu-affinity/sched-affinity.js";

const scratch = mkdtempSync(join(tmpdir(), "pipeline-concurrency-"));
const image = join(scratch, "talker.oci");
const workRoot = join(scratch, "runs");
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

const LINES = 300;
// Writes its id into the shared image path /marker, talks on both streams, then reads /marker back:
// a shared overlay or crossed streams would show another run's id.
const SCRIPT = `echo "run-$ID" > /marker; i=0; while [ $i -lt ${LINES} ]; do echo "$ID-out-$i"; echo "$ID-err-$i" >&2; i=$((i+1)); done; cat /marker; exit $ID`;

function expected(id: number, stream: "out" | "err"): string {
  let text = "";
  for (let i = 0; i < LINES; i++) text += `${id}-${stream}-${i}\n`;
  return stream === "out" ? text + `run-${id}\n` : text;
}

// The stages, VMMs among them, are started from this thread and inherit its CPUs.
if (process.env[EMULATED_HOST_VARIABLE]) setAffinity([0]);

test("four pipelines at once never mix their outputs", async () => {
  await buildImage({ base: "busybox", config: { cmd: ["/bin/sh", "-c", SCRIPT] } }, { format: "oci-dir", out: image });
  const ids = [11, 12, 13, 14];
  const live = new Map<number, Buffer[]>(ids.map((id) => [id, []]));
  const results = await Promise.all(ids.map((id) => runPipeline({
    image,
    env: [`ID=${id}`],
    outputs: ["/marker"],
    workRoot,
    bootTimeoutSec: 1800,
    onStdout: (chunk) => live.get(id)!.push(chunk),
  })));
  results.forEach((r, i) => {
    const id = ids[i]!;
    assert.is(r.error, undefined, `run ${id}: ${r.error}${r.vm?.consoleTail ? `; its console ends:\n${r.vm.consoleTail}` : ""}`);
    assert.is(r.status, id);
    assert.is(r.stdout.toString(), expected(id, "out"), `stdout of run ${id}`);
    assert.is(r.stderr.toString(), expected(id, "err"), `stderr of run ${id}`);
    assert.ok(Buffer.concat(live.get(id)!).equals(r.stdout), `live stdout of run ${id}`);
    assert.is(r.outputs["/marker"]?.toString(), `run-${id}\n`);
    assert.is(r.forgedFrames, 0);
    // The usual end: collect finished and the runner stopped the VM, reported as such rather than as "aborted";
    // on a host where the guest runs fast (hardware KVM), guest-init's own reset can come first.
    const end = r.vm && { exitReason: r.vm.exitReason, detail: r.vm.detail };
    const ends = [
      { exitReason: "stopped", detail: "stopped by the runner once collect had finished" },
      { exitReason: "reset", detail: "the guest reset the machine through the i8042" },
    ];
    assert.ok(ends.some((e) => JSON.stringify(e) === JSON.stringify(end)), `run ${id} ended ${JSON.stringify(end)}`);
  });
  // One root image for all four: built once (or found cached), not once per run.
  assert.is(new Set(results.map((r) => r.image.digest)).size, 1);
  assert.equal(readdirSync(workRoot), [], "every run directory removed");
});

test.run();
