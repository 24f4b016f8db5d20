// `bencher-run pipeline` argument parsing: docker-run-like rest-of-argv
// overrides, repeatable flags, and one-line usage errors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { optionsForRun, parsePipelineArgs, parseSize, UsageError } from "../../bin/pipeline/cli-args.js";
import { allowedCpus } from "../../lib/cpu-affinity/pinning.js";
import { formatCpuList } from "../../lib/cpu-affinity/cpu-list.js";
import { join } from "node:path";

const parse = (...argv: string[]) => parsePipelineArgs(argv);

function usageError(argv: string[], pattern: RegExp): void {
  try {
    parsePipelineArgs(argv);
  } catch (err) {
    assert.instance(err, UsageError);
    assert.match((err as Error).message, pattern);
    assert.not.match((err as Error).message, /\n/);
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(argv)}`);
}

test("--cpus: a host CPU list, checked against this host", () => {
  const mine = allowedCpus();
  assert.equal(parse("--image", "i", "--cpus", String(mine[0])).options.cpus, [mine[0]]);
  assert.equal(parse("--image", "i", `--cpus=${formatCpuList(mine)}`).options.cpus, mine);
  usageError(["--image", "i", "--cpus", "1-"], /^--cpus 1-: "1-" is not a CPU number or range \(expected a CPU list such as 1, 2-3 or 1,3\)$/);
  usageError(["--image", "i", "--cpus", "0,0"], /^--cpus 0,0: CPU 0 is listed twice$/);
  usageError(["--image", "i", "--cpus", "4000"], /^--cpus 4000: CPU 4000 does not exist or is offline \(this host has CPUs /);
  usageError(["--image", "i", "--cpus"], /^--cpus needs a value$/);
  usageError(["--image", "i", "--cpus", "0", "--cpus", "0"], /^--cpus given twice$/);
});

test("--image alone: defaults", () => {
  const a = parse("--image", "img.oci");
  assert.equal(a.options, { image: "img.oci" });
  assert.is(a.iter, 1);
  assert.is(a.json, false);
});

test("--cmd takes the rest of the arguments, flags included", () => {
  const a = parse("--image", "i", "--cmd", "sh", "-c", "echo --json", "--timeout", "3");
  assert.equal(a.options.cmd, ["sh", "-c", "echo --json", "--timeout", "3"]);
  assert.is(a.json, false);
  assert.is(a.options.timeoutSec, undefined);
});

test("-- is the same as --cmd", () => {
  assert.equal(parse("--image=i", "--", "ls", "-l").options.cmd, ["ls", "-l"]);
});

test("--entrypoint takes the rest, up to --cmd", () => {
  const a = parse("--image", "i", "--entrypoint", "/bin/sh", "-c", "echo $0 $1", "--cmd", "x", "y");
  assert.equal(a.options.entrypoint, ["/bin/sh", "-c", "echo $0 $1"]);
  assert.equal(a.options.cmd, ["x", "y"]);
  assert.equal(parse("--image", "i", "--entrypoint", "/bin/true").options.cmd, undefined);
  // `--entrypoint ''` clears the image's ENTRYPOINT (docker run): --cmd's arguments are the command.
  const cleared = parse("--image", "i", "--entrypoint", "", "--cmd", "/bin/echo", "hi");
  assert.equal([cleared.options.entrypoint, cleared.options.cmd], [[], ["/bin/echo", "hi"]]);
});

test("an empty --cmd means the image's CMD (as docker run without arguments)", () => {
  assert.is(parse("--image", "i", "--cmd").options.cmd, undefined);
});

test("every option, both spellings; --env and --output repeat", () => {
  const a = parse(
    "--image=i", "--timeout", "7", "--boot-timeout=60", "--vcpus", "2", "--memory", "512", "--disk", "300",
    "--env", "A=1", "-e", "B=2=3", "--workdir", "/w", "-u", "nobody", "--output", "/a", "--output=/b/c",
    "--output-dir", "out", "--max-output-size", "10M", "--kernel", "k", "--iter", "3", "--rootfs", "ext4",
    "--keep", "--json", "--verbose", "--work-root", "/tmp/r",
  );
  assert.equal(a.options, {
    image: "i", timeoutSec: 7, bootTimeoutSec: 60, vcpus: 2, memoryMiB: 512, diskMiB: 300, env: ["A=1", "B=2=3"],
    workdir: "/w", user: "nobody", outputs: ["/a", "/b/c"], outputDir: "out", maxOutputSize: 10 * 1024 * 1024,
    kernel: "k", rootfs: "ext4", workRoot: "/tmp/r", keep: true,
  });
  assert.equal([a.iter, a.json, a.verbose], [3, true, true]);
  assert.is(a.typed["--memory"], "512");
  assert.is(a.typed["--workdir"], "/w", "typed under the long flag, whichever spelling was used");
  assert.is(a.typed["--env"], undefined, "repeatable options have no one typed value");
});

test("--iter N with --output-dir: run i's files go to its own run-i/", () => {
  const many = parse("--image", "i", "--output", "/a", "--output-dir", "out", "--iter", "3");
  assert.is(optionsForRun(many, 1).outputDir, join("out", "run-1"));
  assert.is(optionsForRun(many, 3).outputDir, join("out", "run-3"));
  assert.is(many.options.outputDir, "out", "the parsed options are left as they are");
  const once = parse("--image", "i", "--output", "/a", "--output-dir", "out");
  assert.is(optionsForRun(once, 1).outputDir, "out");
  assert.is(optionsForRun(parse("--image", "i", "--iter", "2"), 2).outputDir, undefined);
});

test("registry access: --registry-ca, --plain-http, --no-plain-http", () => {
  assert.equal(parse("--image", "r.example/a:1", "--registry-ca", "ca.pem").options, { image: "r.example/a:1", registryCa: "ca.pem" });
  assert.is(parse("--image", "x", "--plain-http").options.plainHttp, true);
  assert.is(parse("--image", "x", "--no-plain-http").options.plainHttp, false);
  assert.is(parse("--image", "x").options.plainHttp, undefined);
  assert.throws(() => parse("--image", "x", "--plain-http", "--no-plain-http"), /contradict/);
  assert.equal(parse("--image", "r.example/a:1", "--authfile", "auth.json").options, { image: "r.example/a:1", authFile: "auth.json" });
});

test("sizes: bytes and K/M/G suffixes", () => {
  assert.is(parseSize("--x", "1000"), 1000);
  assert.is(parseSize("--x", "4K"), 4096);
  assert.is(parseSize("--x", "2MiB"), 2 * 1024 * 1024);
  assert.is(parseSize("--x", "1g"), 1024 ** 3);
  assert.throws(() => parseSize("--x", "1.5M"), /--x 1\.5M: expected a size/);
  assert.throws(() => parseSize("--x", "-1"), /expected a size/);
});

test("--env KEY passes our own KEY's value, or removes the image's KEY when we have none (docker run -e KEY)", () => {
  process.env.BENCHER_TEST_ENV_PASSED = "from the host = 1";
  delete process.env.BENCHER_TEST_ENV_UNSET;
  try {
    const { options } = parse("--image", "i", "-e", "BENCHER_TEST_ENV_PASSED", "--env", "BENCHER_TEST_ENV_UNSET", "--env", "A=b=c");
    assert.equal(options.env, ["BENCHER_TEST_ENV_PASSED=from the host = 1", "BENCHER_TEST_ENV_UNSET", "A=b=c"]);
  } finally {
    delete process.env.BENCHER_TEST_ENV_PASSED;
  }
});

test("usage errors name the flag and what is wrong", () => {
  usageError([], /--image is required/);
  usageError(["--image"], /--image needs a value/);
  usageError(["--image", "i", "--imag", "x"], /unknown option --imag/);
  usageError(["--image", "i", "echo"], /unexpected argument "echo" \(the command goes after --cmd or --\)/);
  usageError(["--image", "i", "--timeout", "0"], /--timeout 0: expected a whole number of at least 1/);
  usageError(["--image", "i", "--timeout", "1.5"], /--timeout 1\.5/);
  usageError(["--image", "i", "--vcpus", "two"], /--vcpus two/);
  usageError(["--image", "i", "--env", "=x"], /^--env =x: expected KEY=VALUE or KEY$/);
  usageError(["--image", "i", "--env", ""], /^--env : expected KEY=VALUE or KEY$/);
  usageError(["--image", "i", "--workdir", "rel"], /--workdir rel: expected an absolute path/);
  usageError(["--image", "i", "--output", "rel"], /--output rel: expected an absolute path/);
  usageError(["--image", "i", "--output-dir", "d"], /--output-dir needs at least one --output/);
  usageError(["--image", "i", "--rootfs", "btrfs"], /--rootfs btrfs: expected ext4 or squashfs/);
  usageError(["--image", "i", "--disk", "100", "--rootfs", "squashfs"], /--disk applies to ext4 only \(squashfs is read-only and sized by its content\)/);
  usageError(["--image", "i", "--timeout", "1", "--timeout", "2"], /--timeout given twice/);
  usageError(["--image", "i", "--json=yes"], /--json takes no value/);
  usageError(["--image", "i", "--cmd=ls"], /--cmd takes the rest of the arguments/);
  usageError(["--image", "i", "--entrypoint"], /--entrypoint needs at least the program/);
  usageError(["--image", "i", "--iter", "0"], /--iter 0/);
});

test.run();
