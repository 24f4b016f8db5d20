// The pipeline's option checks: each refusal names the option as the API
// spells it, and the command line retells it with the flag and the text typed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { tmpdir } from "node:os";
import { checkOptions, MAX_MEMORY_MIB, MAX_TIMEOUT_SEC, type PipelineOptions } from "../../../bin/pipeline/options.js";
import { PipelineOptionError } from "../../../bin/pipeline/errors.js";
import { describeOptionError, parsePipelineArgs } from "../../../bin/pipeline/cli-args.js";

function refusal(o: Partial<PipelineOptions>): PipelineOptionError {
  try {
    checkOptions({ image: "x", ...o });
  } catch (err) {
    assert.instance(err, PipelineOptionError);
    return err as PipelineOptionError;
  }
  throw new Error(`accepted: ${JSON.stringify(o)}`);
}

test("API refusals name the option as the API spells it", () => {
  const memory = refusal({ memoryMiB: 10 });
  assert.is(memory.option, "memoryMiB");
  assert.is(memory.message, `memoryMiB 10: expected a whole number from 64 to ${MAX_MEMORY_MIB}`);
  assert.is(refusal({ timeoutSec: 0 }).message, `timeoutSec 0: expected a whole number from 1 to ${MAX_TIMEOUT_SEC}`);
  assert.is(refusal({ bootTimeoutSec: 3601 }).message, "bootTimeoutSec 3601: expected a whole number from 1 to 3600");
  assert.is(refusal({ maxOutputSize: -1 }).message, `maxOutputSize -1: expected a whole number from 0 to ${2 ** 30}`);
  // Results come back in memory, files read back whole: Node reads none of 2 GiB or more in one piece.
  assert.is(refusal({ maxOutputSize: 2 ** 31 }).message, `maxOutputSize ${2 ** 31}: expected a whole number from 0 to ${2 ** 30}`);
  assert.is(refusal({ env: ["=A"] }).message, 'env "=A": expected NAME=value, or NAME to remove it');
  assert.is(refusal({ outputs: ["/"] }).message, 'outputs: output path "/" names a directory, not a file');
  assert.is(refusal({ rootfs: "squashfs", diskMiB: 10 }).message, "diskMiB: applies to ext4 only (squashfs is read-only and sized by its content)");
  assert.is(refusal({ image: "" }).message, "image: missing (an OCI layout, archive or registry reference)");
});

test("a kernel or CA file that is a directory says so", () => {
  const dir = tmpdir();
  assert.is(refusal({ kernel: dir }).message, `kernel ${dir}: is a directory, not a file`);
  assert.is(refusal({ registryCa: dir }).message, `registryCa ${dir}: is a directory, not a file`);
  assert.is(refusal({ authFile: "/no/such/auth.json" }).message, "authFile /no/such/auth.json: no such file");
  assert.is(refusal({ kernel: "/dev/null" }).message, "kernel /dev/null: is not a regular file");
  assert.is(refusal({ kernel: "/no/such/vmlinux" }).message, "kernel /no/such/vmlinux: no such file");
});

test("the command line retells them with its flags and the text typed", () => {
  const retold = (...args: string[]) => {
    const cli = parsePipelineArgs(["--image", "x", ...args]);
    try {
      checkOptions(cli.options);
    } catch (err) {
      return describeOptionError(err as PipelineOptionError, cli.typed);
    }
    throw new Error(`accepted: ${args.join(" ")}`);
  };
  assert.is(retold("--memory", "300000"), `--memory 300000: expected a whole number from 64 to ${MAX_MEMORY_MIB}`);
  assert.is(retold("--timeout=999999"), `--timeout 999999: expected a whole number from 1 to ${MAX_TIMEOUT_SEC}`);
  assert.is(retold("--quiet-cpus"), "--quiet-cpus: needs 2 or more vCPUs (vCPU 0 keeps the guest kernel's housekeeping), not 1");
  assert.is(retold("--kernel", "/dev/null"), "--kernel /dev/null: is not a regular file");
  assert.is(retold("--output", "/a/", "--output-dir", "o"), '--output: output path "/a/" names a directory, not a file');
  assert.is(retold("-w", "/w", "--boot-timeout", "4000"), "--boot-timeout 4000: expected a whole number from 1 to 3600");
  assert.is(retold("--output", "/r", "--output-dir", ""), `--output-dir "": expected a directory (an empty path would mean the current one)`);
  assert.throws(() => parsePipelineArgs(["--image", "x", "--memory", "abc"]), (err: Error) => err.message === "--memory abc: expected a whole number");
});

test("an option with no flag keeps the API's words", () => {
  assert.is(describeOptionError(new PipelineOptionError("somethingNew", "1", "bad"), {}), "somethingNew 1: bad");
});

test.run();
