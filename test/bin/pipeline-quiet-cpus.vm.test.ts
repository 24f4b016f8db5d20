// --vcpus 2 --quiet-cpus in a real VM: the command runs on vCPU 1 only, the
// guest kernel made vCPU 1 tickless, the command sees one CPU, and a busy
// loop there is not interrupted by the timer tick (a 100 Hz tick would
// interrupt a 0.3 s loop about 30 times).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { runPipeline } from "../../bin/pipeline-run.js";

const scratch = mkdtempSync(join(tmpdir(), "pipeline-quiet-cpus-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

// Local timer interrupts (the LOC row of /proc/interrupts) on the CPU it runs on, around 180M steps of integer work.
const PROBE = `#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static long loc(int cpu) {
  FILE *f = fopen("/proc/interrupts", "r");
  char line[1024];
  long v = -1;
  while (f && fgets(line, sizeof line, f)) {
    char *p = line + strspn(line, " ");
    if (strncmp(p, "LOC:", 4)) continue;
    p += 4;
    for (int i = 0; i <= cpu; i++) v = strtol(p, &p, 10);
  }
  if (f) fclose(f);
  return v;
}
int main(void) {
  int cpu = sched_getcpu();
  long before = loc(cpu);
  unsigned long long x = 88172645463325252ULL, acc = 0;
  for (unsigned long i = 0; i < 180000000UL; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; acc = acc * 6364136223846793005ULL + (x | 1); }
  long after = loc(cpu);
  printf("cpu=%d timer_interrupts=%ld check=%llx\\n", cpu, after - before, acc & 1);
  return 0;
}
`;

test("the command runs on the tickless vCPU 1 and sees one CPU", async () => {
  const source = join(scratch, "probe.c");
  writeFileSync(source, PROBE);
  execFileSync("musl-gcc", ["-static", "-O2", "-o", join(scratch, "probe"), source]);
  const image = join(scratch, "probe.oci");
  await buildImage({
    base: "busybox",
    layers: [{ compression: "gzip", entries: [{ type: "file", path: "probe", hostFile: join(scratch, "probe"), mode: 0o755 }] }],
    config: { cmd: ["/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status; cat /sys/devices/system/cpu/nohz_full; nproc; /probe"] },
  }, { format: "oci-dir", out: image });
  const r = await runPipeline({ image, vcpus: 2, quietCpus: true, workRoot: join(scratch, "runs"), bootTimeoutSec: 1800 });
  assert.is(r.error, undefined, String(r.error));
  assert.is(r.status, 0, r.stderr.toString());
  const [allowed, nohzFull, nproc, probe] = r.stdout.toString().trim().split("\n");
  assert.is(allowed, "Cpus_allowed_list:\t1");
  assert.is(nohzFull, "1", "the guest kernel's tickless CPUs");
  assert.is(nproc, "1");
  const m = /^cpu=(\d+) timer_interrupts=(\d+) /.exec(probe ?? "");
  assert.ok(m, probe);
  assert.is(m![1], "1");
  assert.ok(Number(m![2]) < 10, `${m![2]} timer interrupts during the loop: the tick did not stop`);
});

test.run();
