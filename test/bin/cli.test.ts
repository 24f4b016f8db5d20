import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cli, runCli } from "./helpers.js";

const SUBCOMMANDS = ["pipeline", "unpack", "mkrootfs", "boot", "collect", "doctor", "scenarios", "cache"];

test("--help lists every subcommand, without colour codes when not a terminal", async () => {
  const r = await runCli(["--help"]);
  assert.is(r.exitCode, 0);
  for (const name of SUBCOMMANDS) assert.match(r.stdout, new RegExp(`\\b${name}\\b`));
  assert.not.match(r.stdout, /\x1b\[/);
});

for (const name of SUBCOMMANDS) {
  test(`${name} --help`, async () => {
    const r = await runCli([name, "--help"]);
    assert.is(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`USAGE bencher-run ${name}`));
  });
}

test("stage subcommands take --json", async () => {
  for (const name of ["unpack", "mkrootfs", "boot", "collect", "pipeline"]) {
    assert.match((await runCli([name, "--help"])).stdout, /--json/, name);
  }
});

test("an unknown command is a one-line usage error, exit 2", async () => {
  const r = await runCli(["frobnicate"]);
  assert.is(r.exitCode, 2);
  assert.is(r.stderr, "bencher-run: Unknown command frobnicate (see bencher-run --help)");
});

test("help for a command that does not exist is the same usage error, not the top level's help", async () => {
  for (const args of [["help", "frobnicate"], ["frobnicate", "--help"], ["frobnicate", "-h"]]) {
    const r = await runCli(args);
    assert.is(r.exitCode, 2, args.join(" "));
    assert.is(r.stdout, "", args.join(" "));
    assert.is(r.stderr, "bencher-run: Unknown command frobnicate (see bencher-run --help)", args.join(" "));
  }
  const extra = await runCli(["help", "boot", "pipeline"]);
  assert.is(extra.exitCode, 2);
  assert.is(extra.stderr, 'bencher-run: help takes one command at most, not "pipeline" too (see bencher-run --help)');
});

test("an option before any command is a one-line usage error naming it, exit 2", async () => {
  const r = await runCli(["--bogus", "pipeline"]);
  assert.is(r.exitCode, 2);
  assert.is(r.stderr, "bencher-run: unknown option --bogus: a command comes first, its options after it (see bencher-run --help)");
});

test("no command at all is a usage error: the commands listed, one line why, exit 2", async () => {
  const r = await runCli([]);
  assert.is(r.exitCode, 2);
  assert.match(r.stdout, /USAGE bencher-run pipeline\|unpack/);
  assert.is(r.stderr, "bencher-run: no command given (see the commands above)");
});

test("help [COMMAND] is [COMMAND] --help", async () => {
  const boot = await runCli(["help", "boot"]);
  assert.is(boot.exitCode, 0);
  assert.equal(boot.stdout, (await runCli(["boot", "--help"])).stdout);
  const top = await runCli(["help"]);
  assert.is(top.exitCode, 0);
  assert.match(top.stdout, /pipeline/);
});

test("an option a subcommand does not have is a one-line usage error, exit 2, before anything runs", async () => {
  // citty alone ignored it: `boot --kernal F` booted the default kernel.
  const typo = await runCli(["boot", "--kernal", "/tmp/x", "--json"]);
  assert.is(typo.exitCode, 2);
  assert.is(typo.stderr, "bencher-run: unknown option --kernal (see bencher-run boot --help)");
  assert.is(typo.stdout, "");
  for (const name of ["unpack", "mkrootfs", "collect", "doctor", "scenarios", "cache", "image"]) {
    const r = await runCli([name, "--bogus=1"]);
    assert.is(r.stderr, `bencher-run: unknown option --bogus (see bencher-run ${name} --help)`, name);
  }
  const pipeline = await runCli(["pipeline", "--image", "./no-such-image.oci", "--bogus"]);
  assert.is(pipeline.stderr, "bencher-run: unknown option --bogus (see bencher-run pipeline --help)", "pipeline parses its own options");
});

test("a value given to an option that takes none is a usage error, before anything runs: --force=no does not force", async () => {
  const r = await runCli(["image", "examples/hello-bench.json", "--out", "/no-such-dir/x.oci", "--force=no"]);
  assert.equal([r.exitCode, r.stdout, r.stderr], [2, "", "bencher-run: --force takes no value (see bencher-run image --help)"]);
  const json = await runCli(["cache", "ls", "--json=false"]);
  assert.equal([json.exitCode, json.stderr], [2, "bencher-run: --json takes no value (see bencher-run cache --help)"]);
});

test("an argument a subcommand has no place for is a one-line usage error, exit 2, before anything runs", async () => {
  // citty alone ignored it: `scenarios run basic_execution` ran every scenario.
  const extra = await runCli(["scenarios", "run", "basic_execution"]);
  assert.is(extra.exitCode, 2);
  assert.is(extra.stderr, 'bencher-run: unexpected argument "run" (see bencher-run scenarios --help)');
  assert.is(extra.stdout, "");
  const cache = await runCli(["cache", "prune", "all"]);
  assert.is(cache.stderr, 'bencher-run: unexpected argument "all" (see bencher-run cache --help)');
  assert.is(cache.exitCode, 2);
});

test("scenarios: an empty --scenario or a missing --kernel is refused before any scenario runs", async () => {
  const empty = await runCli(["scenarios", "--scenario", ""]);
  assert.is(empty.exitCode, 2);
  assert.is(empty.stderr, "bencher-run: --scenario: empty name (see bencher-run scenarios --list)");
  const kernel = await runCli(["scenarios", "--scenario", "exit_code", "--kernel", "/nonexistent/vmlinux"]);
  assert.is(kernel.exitCode, 1);
  assert.is(kernel.stderr, "bencher-run: --kernel /nonexistent/vmlinux: no such file or directory");
  assert.is(kernel.stdout, "");
  if (!existsSync("/dev/kvm")) {
    // Said once, before any scenario builds its root image.
    const noKvm = await runCli(["scenarios", "--scenario", "exit_code", "--scenario", "basic_execution"]);
    assert.equal([noKvm.exitCode, noKvm.stderr, noKvm.stdout], [1, "bencher-run: /dev/kvm: not present (no KVM on this host; see bencher-run doctor)", ""]);
  }
});

test("exit 2 for a command line no file or host could make right; 1 for the world's answer (a missing file)", async () => {
  const negative = await runCli(["cache", "prune", "--max-mib", "-1"]);
  assert.is(negative.stderr, "bencher-run: --max-mib -1: expected a whole number from 0 to 8589934591");
  assert.is(negative.exitCode, 2);
  const noScenario = await runCli(["scenarios", "--scenario", "no_such_scenario"]);
  assert.is(noScenario.stderr, "bencher-run: --scenario no_such_scenario: no such scenario (see bencher-run scenarios --list)");
  assert.is(noScenario.exitCode, 2);
  const both = await runCli(["boot", "--guest-init", "--initramfs", "/etc/hostname"]);
  assert.is(both.exitCode, 2, both.stderr);
  const missing = await runCli(["mkrootfs", "--input", "/nonexistent/tree"]);
  assert.is(missing.stderr, "bencher-run: --input /nonexistent/tree: no such file or directory");
  assert.is(missing.exitCode, 1);
});

test("a missing required flag is a one-line usage error", async () => {
  const r = await runCli(["unpack", "--out", "/tmp/x"]);
  assert.is(r.exitCode, 2);
  assert.is(r.stderr, "bencher-run: Missing required argument: --image (see bencher-run unpack --help)");
});

test("--help or -h asks for help only where an option may stand: not as an option's value, nor in pipeline's command", async () => {
  const commands = [["--cmd", "ls", "-h"], ["--", "grep", "--help"], ["--entrypoint", "sh", "--cmd", "--help"], ["-e", "-h", "--cmd", "true"]];
  for (const command of commands) {
    const r = await runCli(["pipeline", "--image", "/no-such-image", ...command]);
    assert.equal([r.exitCode, r.stdout, r.stderr], [125, "", "bencher-run: --image /no-such-image: no such file or directory"], command.join(" "));
  }
  const value = await runCli(["unpack", "--image", "-h"]);
  assert.equal([value.exitCode, value.stderr], [2, "bencher-run: Missing required argument: --out (see bencher-run unpack --help)"]);
  for (const args of [["pipeline", "--image", "x", "-h"], ["unpack", "-h"], ["cache", "ls", "--help"]]) {
    const r = await runCli(args);
    assert.is(r.exitCode, 0, args.join(" "));
    assert.match(r.stdout, /USAGE/, args.join(" "));
  }
});

test("pipeline with a missing image fails with one line, exit 125 (as docker run)", async () => {
  const r = await runCli(["pipeline", "--image", "./no-such-image.oci"]);
  assert.is(r.exitCode, 125);
  assert.match(r.stderr, /^bencher-run: --image \.\/no-such-image\.oci: no such file or directory$/);
  assert.is(r.stdout, "");
});

test("--version prints the package version", async () => {
  const r = await runCli(["--version"]);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});

test("the shim says how to build when dist/ is missing", async () => {
  const fake = mkdtempSync(join(tmpdir(), "shim-test-"));
  try {
    mkdirSync(join(fake, "bin"));
    copyFileSync(cli, join(fake, "bin", "bencher-run"));
    symlinkSync(join(cli, "..", "..", "package.json"), join(fake, "package.json"));
    const r = await execa(join(fake, "bin", "bencher-run"), ["--help"], { reject: false });
    assert.is(r.exitCode, 1);
    assert.is(r.stderr, `bencher-run: not built yet: run ${fake}/setup (or npm run build in ${fake}/)`);
  } finally {
    rmSync(fake, { recursive: true, force: true });
  }
});

test("a reader that closes its end early (| head) ends the command quietly, not with a stack trace", async () => {
  const { spawn } = await import("node:child_process");
  const child = spawn(process.execPath, [cli, "cache", "ls"], { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.destroy(); // closed before the command writes anything
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.is(code, 0, stderr);
  assert.not.match(stderr, /EPIPE|Error/);
});

test.run();
