// bencher-run pipeline failures that need no VM: usage errors, a missing or
// broken image, an image with nothing to run. Each exits 125 with one line
// on stderr, prints nothing on stdout and leaves no run directory behind.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { runCli } from "./helpers.js";

const scratch = mkdtempSync(join(tmpdir(), "pipeline-cli-"));
const workRoot = join(scratch, "runs");
const env = { BENCHER_RUN_WORKDIR: workRoot };
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

async function fails(args: string[], pattern: RegExp): Promise<void> {
  const r = await runCli(["pipeline", ...args], env, 120_000);
  assert.is(r.exitCode, 125, r.stderr);
  assert.is(r.stdout, "");
  assert.match(r.stderr, pattern);
  assert.is(r.stderr.split("\n").length, 1, r.stderr);
  const left = (() => {
    try {
      return readdirSync(workRoot);
    } catch {
      return [];
    }
  })();
  assert.equal(left, [], "run directories left behind");
}

test("usage errors exit 125 with one line", async () => {
  await fails([], /^bencher-run: --image is required .*\(see bencher-run pipeline --help\)$/);
  await fails(["--image", "x", "--vcpus", "0"], /^bencher-run: --vcpus 0: expected a whole number of at least 1/);
  await fails(["--image", "x", "--bogus"], /^bencher-run: unknown option --bogus/);
  // Refused by the pipeline's own checks, still in the command line's words.
  await fails(["--image", "x", "--memory", "300000"], /^bencher-run: --memory 300000: expected a whole number from 64 to \d+$/);
  // More than the host has is refused before any image is looked at (x is no image at all).
  await fails(["--image", "x", "--memory", "262144"], /^bencher-run: --memory 262144: 262144 MiB cannot be backed: the host has \d+ MiB available \(MemAvailable in \/proc\/meminfo\)$/);
});

test("a missing image", async () => {
  await fails(["--image", join(scratch, "nope.oci")], /^bencher-run: --image .*nope\.oci: no such file or directory$/);
});

test("a directory that is not an image", async () => {
  const dir = join(scratch, "not-an-image");
  mkdirSync(dir);
  writeFileSync(join(dir, "readme"), "hi");
  await fails(["--image", dir], /^bencher-run: .*neither an OCI layout \(index\.json\) nor a docker-save archive/);
});

test("an image with neither ENTRYPOINT nor CMD, and none given", async () => {
  const image = join(scratch, "nocmd.oci");
  await buildImage({ base: "busybox", config: { env: ["A=1"] } }, { format: "oci-dir", out: image });
  await fails(["--image", image], /^bencher-run: .*nocmd\.oci: no command to run: the image has no ENTRYPOINT or CMD and none was given$/);
});

test("an output directory that cannot be made is refused before the run", async () => {
  const image = join(scratch, "echo-out.oci");
  await buildImage({ base: "busybox", config: { cmd: ["echo", "hi"] } }, { format: "oci-dir", out: image });
  const file = join(scratch, "a-file");
  writeFileSync(file, "x");
  await fails(["--image", image, "--output", "/r", "--output-dir", file], /^bencher-run: --output-dir .*a-file: .*a-file exists and is not a directory$/);
  await fails(["--image", image, "--output", "/r", "--output-dir", join(file, "out")], /^bencher-run: --output-dir .*a-file\/out: .*a-file exists and is not a directory$/);
  // Node's own recursive mkdir never returns here.
  await fails(["--image", image, "--output", "/r", "--output-dir", "/proc/bencher-no-such/out"], /^bencher-run: --output-dir \/proc\/bencher-no-such\/out: cannot create directory \/proc\/bencher-no-such: \/proc does not take new directories$/);
});

test("an --output whose place in --output-dir is taken is refused before the run, the directory left as it was", async () => {
  const image = join(scratch, "echo-out.oci");
  if (!existsSync(image)) await buildImage({ base: "busybox", config: { cmd: ["echo", "hi"] } }, { format: "oci-dir", out: image });
  const out = join(scratch, "taken");
  mkdirSync(join(out, "data", "result.json"), { recursive: true });
  writeFileSync(join(out, "bench"), "a file where the directory for /bench/result.json must go");
  await fails(["--image", image, "--output", "/bench/result.json", "--output-dir", out],
    new RegExp(`^bencher-run: --output-dir ${out}: /bench/result\\.json would be saved as ${out}/bench/result\\.json, but ${out}/bench is not a directory$`));
  await fails(["--image", image, "--output", "/data/result.json", "--output-dir", out],
    new RegExp(`^bencher-run: --output-dir ${out}: /data/result\\.json would be saved as ${out}/data/result\\.json, which is a directory$`));
  assert.equal(readdirSync(out).sort(), ["bench", "data"]);
});

test("a run that fails removes the output directory it made", async () => {
  const image = join(scratch, "nocmd-out.oci");
  await buildImage({ base: "busybox", config: { env: ["A=1"] } }, { format: "oci-dir", out: image });
  const made = join(scratch, "made");
  await fails(["--image", image, "--output", "/r", "--output-dir", join(made, "out")], /no command to run/);
  assert.not.ok(existsSync(made), "the output directory made for the run is left");
});

test("a user or group the image lacks is refused before a VM is booted for it", async () => {
  // Content of its own, so the root image is built here (with its names recorded), then found in the cache.
  const image = join(scratch, "users.oci");
  await buildImage({ base: "busybox", layers: [{ entries: [{ type: "file", path: "/unique", content: scratch }] }], config: { cmd: ["id"] } }, { format: "oci-dir", out: image });
  for (let run = 0; run < 2; run++) {
    await fails(["--image", image, "--user", "ghost"], /^bencher-run: --user ghost: no such user "ghost" in the image's \/etc\/passwd$/);
    await fails(["--image", image, "-u", "nobody:ghosts"], /^bencher-run: --user nobody:ghosts: no such group "ghosts" in the image's \/etc\/group$/);
  }
  const imageUser = join(scratch, "image-user.oci");
  await buildImage({ base: "busybox", layers: [{ entries: [{ type: "file", path: "/unique", content: `${scratch} 2` }] }], config: { cmd: ["id"], user: "bench" } }, { format: "oci-dir", out: imageUser });
  await fails(["--image", imageUser], /^bencher-run: .*image-user\.oci: the image's user "bench": no such user "bench" in the image's \/etc\/passwd$/);
});

test("a kernel that does not exist", async () => {
  const image = join(scratch, "echo.oci");
  await buildImage({ base: "busybox", config: { cmd: ["echo", "hi"] } }, { format: "oci-dir", out: image });
  await fails(["--image", image, "--kernel", join(scratch, "vmlinux")], /^bencher-run: --kernel .*vmlinux: no such file$/);
});

test.run();
