// Requested output files: present, missing, not regular, capped, and never
// read from outside the image however the workload plants symlinks.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileText, jobFor, makeRootfs, runHostTest } from "./host-harness.js";

let root = "";
test.before(() => {
  root = makeRootfs();
});
test.after(() => rmSync(root, { recursive: true, force: true }));

test("returns each requested file, in order, with its status", async () => {
  const run = await runHostTest(
    jobFor(["sh", "-c", "echo -n hello > /data/a.txt; mkdir -p /data/dir; mkfifo /data/fifo; : > /data/empty"], {
      outputPaths: ["/data/a.txt", "/data/missing", "/data/dir", "/data/fifo", "/data/empty", "/nodir/x/y"],
    }),
    { root },
  );
  const files = run.result.files.map((f) => [f.guestPath, f.status, fileText(f), f.truncated]);
  assert.equal(files, [
    ["/data/a.txt", "present", "hello", false],
    ["/data/missing", "missing", "", false],
    ["/data/dir", "not-regular", "", false],
    ["/data/fifo", "not-regular", "", false],
    ["/data/empty", "present", "", false],
    ["/nodir/x/y", "missing", "", false],
  ]);
  assert.ok(run.result.complete);
  rmSync(`${root}/data`, { recursive: true });
});

test("a large binary file arrives whole; past the cap it is truncated and says so", async () => {
  const make = "head -c 3000000 /dev/urandom > /tmp/big";
  const whole = await runHostTest(jobFor(["sh", "-c", make], { outputPaths: ["/tmp/big"] }), { root });
  assert.ok(whole.result.files[0]!.data!.equals(readFileSync(`${root}/tmp/big`)));
  assert.is(whole.result.files[0]!.size, 3_000_000);
  const capped = await runHostTest(jobFor(["sh", "-c", make], { outputPaths: ["/tmp/big"], maxFileBytes: 100_001 }), { root });
  const file = capped.result.files[0]!;
  assert.equal([file.status, file.size, file.data!.length, file.truncated], ["present", 3_000_000, 100_001, true]);
  assert.ok(file.data!.equals(readFileSync(`${root}/tmp/big`).subarray(0, 100_001)));
  assert.ok(capped.streamBytes.length < 200_000, `${capped.streamBytes.length} bytes on the stream: guest-init sent no more than the cap`);
  rmSync(`${root}/tmp/big`);
});

test("symlinks planted by the workload resolve inside the image, never to the host", async () => {
  const run = await runHostTest(
    jobFor(
      [
        "sh",
        "-c",
        "ln -s /etc/os-release /tmp/abs; ln -s ../../../../../../etc/os-release /tmp/rel; " +
          "ln -s /proc/self/environ /tmp/magic; ln -s /dev/zero /tmp/dev",
      ],
      { outputPaths: ["/tmp/abs", "/tmp/rel", "/tmp/magic", "/tmp/dev"] },
    ),
    { root },
  );
  const [abs, rel, magic, dev] = run.result.files;
  // The image has no /etc/os-release; the host has one, which must not be read.
  assert.ok(existsSync("/etc/os-release"), "the host file this test needs");
  assert.is(abs!.status, "missing");
  assert.is(rel!.status, "missing");
  assert.ok(magic!.status === "missing" || magic!.status === "unreadable");
  assert.is(dev!.status, "not-regular");
  rmSync(`${root}/tmp`, { recursive: true });
});

test("a command that could not start returns no files", async () => {
  const run = await runHostTest(jobFor(["missing-cmd"], { outputPaths: ["/etc/passwd"] }), { root });
  assert.ok(run.result.complete);
  assert.equal(run.result.files.map((f) => f.status), ["not-received"], "guest-init sent no FILE");
});

test.run();
