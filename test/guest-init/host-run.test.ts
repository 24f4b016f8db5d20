// guest-init's job handling, run for real in its host-test mode: argv, env,
// working directory, exit codes, signals and start failures.
import { rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { exitStatusFor, NOT_FOUND_EXIT_STATUS } from "../../stages/collect/exit-status.js";
import { fileText, jobFor, makeRootfs, runHostTest, text } from "./host-harness.js";

let root = "";
test.before(() => {
  root = makeRootfs();
});
test.after(() => rmSync(root, { recursive: true, force: true }));

test("runs argv exactly, with the job's env and working directory", async () => {
  const run = await runHostTest(
    jobFor(["sh", "-c", 'printf "%s|" "$0" "$1" "$FOO" "$(pwd)"', "arg zero", "two words"], {
      env: ["PATH=/bin", "FOO=bar baz"],
      workingDir: "/data",
    }),
    { root },
  );
  const r = run.result;
  assert.ok(r.complete, `${r.error} ${run.initStderr}`);
  assert.ok(r.metrics.startedMs !== null, "started");
  assert.is(text(r.stdout), "arg zero|two words|bar baz|/data|");
  assert.equal([r.exitCode, r.signal], [0, null]);
  assert.ok(r.metrics.runMs! > 0);
  assert.equal(run.phases.slice(0, 3), ["listening", "connected", "ready"], "READY is the first frame");
});

test("creates a missing working directory and finds argv[0] on the job's PATH", async () => {
  const run = await runHostTest(jobFor(["pwd"], { workingDir: "/work/deep/dir" }), { root });
  assert.is(text(run.result.stdout), "/work/deep/dir\n");
  rmSync(`${root}/work`, { recursive: true });
});

test("the environment is exactly the job's, plus HOME from /etc/passwd", async () => {
  const run = await runHostTest(jobFor(["env"], { env: ["PATH=/bin", "A=1"] }), { root });
  assert.equal(text(run.result.stdout).trim().split("\n").sort(), ["A=1", "HOME=/root", "PATH=/bin"]);
  const own = await runHostTest(jobFor(["sh", "-c", "echo $HOME"], { env: ["PATH=/bin", "HOME=/custom"] }), { root });
  assert.is(text(own.result.stdout), "/custom\n");
});

test("reports exit codes", async () => {
  for (const code of [0, 1, 3, 255]) {
    const run = await runHostTest(jobFor(["sh", "-c", `exit ${code}`]), { root });
    assert.equal([run.result.exitCode, run.result.signal], [code, null]);
  }
});

test("reports the signal that killed the command", async () => {
  const run = await runHostTest(jobFor(["crash"]), { root });
  assert.is(run.result.signal, 11);
  assert.is(run.result.exitCode, null);
});

test("a command that is not found is an ERROR, not an exit", async () => {
  const run = await runHostTest(jobFor(["no-such-program"]), { root });
  assert.ok(run.result.complete);
  assert.is(run.result.metrics.startedMs, null, "never started");
  assert.is(run.result.metrics.exitedMs, null, "no EXIT");
  assert.match(run.result.guestError ?? "", /cannot execute no-such-program: No such file or directory/);
});

test("a long command name that is not found still says why, so it exits 127 like a short one", async () => {
  const name = `/no-such/${"x".repeat(250)}/${"y".repeat(250)}`; // each part within NAME_MAX: ENOENT, not ENAMETOOLONG
  const run = await runHostTest(jobFor([name]), { root });
  assert.match(run.result.guestError ?? "", new RegExp(`^cannot execute /no-such/x{250}/y{140}\\.\\.\\.: No such file or directory$`));
  assert.is(exitStatusFor(run.result), NOT_FOUND_EXIT_STATUS);
});

test("a command that is not executable is an ERROR", async () => {
  const run = await runHostTest(jobFor(["/etc/passwd"]), { root });
  assert.match(run.result.guestError ?? "", /cannot execute \/etc\/passwd: Permission denied/);
});

test("stdin is /dev/null and the workload runs as PID 1 of its own namespace, as in Docker", async () => {
  const run = await runHostTest(jobFor(["sh", "-c", "cat; echo pid=$$; ls /proc | grep -E '^[0-9]+$' | sort -n | head -1"]), { root });
  assert.is(text(run.result.stdout), "pid=1\n1\n");
});

test("a squashfs job gets a read-only root with a fresh writable /tmp, whose files still come back", async () => {
  const { writeFileSync } = await import("node:fs");
  writeFileSync(`${root}/tmp/from-image`, "hidden");
  const run = await runHostTest(
    jobFor(["sh", "-c", "touch /x 2>&1; ls /tmp; echo -n made > /tmp/out; echo ok"], { rootfsType: "squashfs", outputPaths: ["/tmp/out"] }),
    { root },
  );
  assert.match(text(run.result.stdout), /Read-only file system\nok\n$/);
  assert.not.match(text(run.result.stdout), /from-image/);
  assert.is(fileText(run.result.files[0]), "made");
  rmSync(`${root}/tmp/from-image`);
});

test("an ext4 job keeps the image's own /tmp, as Docker does", async () => {
  const { writeFileSync } = await import("node:fs");
  writeFileSync(`${root}/tmp/from-image`, "kept");
  const run = await runHostTest(jobFor(["cat", "/tmp/from-image"]), { root });
  assert.is(text(run.result.stdout), "kept");
  rmSync(`${root}/tmp/from-image`);
});

test("only loopback exists, and it is up", async () => {
  const run = await runHostTest(jobFor(["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ping -c1 -W1 127.0.0.1 >/dev/null && echo ping-ok"]), { root });
  assert.is(text(run.result.stdout), "lo\nunknown\nping-ok\n", text(run.result.stderr));
});

test.run();
