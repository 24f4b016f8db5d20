// The scenario files themselves: every one loads and checks something, bad
// files are refused with one line naming the field, and the expectation
// checker fails what it should.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadScenarios, parseScenario } from "../../scenarios/runner/scenario.js";
import { checkBytes, checkExpectations } from "../../scenarios/runner/expectations.js";
import { filledEnv, pipelineOptionsFor } from "../../scenarios/runner/run-scenarios.js";
import type { PipelineResult } from "../../bin/pipeline-run.js";

const ISSUE_SCENARIOS = [
  "basic_execution", "environment_variables", "working_directory", "file_output", "exit_code", "timeout_handling",
  "writable_filesystem", "stderr_capture", "multi_cpu", "entrypoint_with_args", "no_network_access",
];

test("every scenario file loads, and the issue's eleven are there", () => {
  const all = loadScenarios();
  const names = all.map((s) => s.name);
  for (const name of ISSUE_SCENARIOS) assert.ok(names.includes(name), name);
  for (const name of ["output_flood", "binary_output", "shell_form_cmd", "entrypoint_only", "no_command", "multi_layer_whiteouts", "large_env", "memory_and_disk_sizes"]) {
    assert.ok(names.includes(name), name);
  }
  for (const s of all) assert.ok(Object.keys(s.expect).length > 0, s.name);
});

const minimal = () => ({ name: "x", description: "d", image: { base: "busybox" }, run: {}, expect: { status: 0 } });

function refused(mutate: (s: Record<string, any>) => void, pattern: RegExp): void {
  const s: Record<string, any> = minimal();
  mutate(s);
  assert.throws(() => parseScenario(s, "/somewhere/x.json"), (err: Error) => pattern.test(err.message) && !err.message.includes("\n"));
}

test("bad scenario files are refused with the file and the field", () => {
  parseScenario(minimal(), "/somewhere/x.json");
  refused((s) => (s.name = "Bad Name"), /^scenario x\.json: name must be lowercase/);
  assert.throws(() => parseScenario(minimal(), "/somewhere/y.json"), /name must match the file name \(x\.json\)/);
  refused((s) => (s.extra = 1), /extra is not a known field/);
  refused((s) => delete s.description, /description must be a non-empty string/);
  refused((s) => (s.imageFormat = "zip"), /imageFormat must be one of/);
  refused((s) => (s.run = { cmd: "echo hi" }), /run\.cmd must be a list of strings/);
  refused((s) => (s.run = { timeout: 3 }), /run\.timeout is not a known field/);
  refused((s) => (s.run = { vcpus: 0 }), /run\.vcpus must be a whole number of at least 1/);
  refused((s) => (s.run = { envFill: { prefix: "1X", count: 1, valueBytes: 1 } }), /run\.envFill\.prefix/);
  refused((s) => (s.expect = {}), /expect checks nothing/);
  refused((s) => delete s.expect, /expect must be an object/);
  refused((s) => (s.expect = { stdout: {} }), /expect\.stdout checks nothing/);
  refused((s) => (s.expect = { stdout: { equal: "x" } }), /expect\.stdout\.equal is not a known field/);
  refused((s) => (s.expect = { stdout: { matches: "(" } }), /expect\.stdout\.matches is not a regular expression/);
  refused((s) => (s.expect = { stdout: { sha256: "abc" } }), /expect\.stdout\.sha256 must be 64/);
  refused((s) => (s.expect = { outputs: { "/f": null } }), /expect\.outputs\["\/f"\] is not in run\.outputs/);
  refused((s) => (s.expect = { error: { contains: ["x"] }, status: 125 }), /expect\.error cannot be combined/);
});

test("byte checks: each kind fails on a mismatch and passes on a match", () => {
  const b = Buffer.from("hello\n");
  assert.equal(checkBytes("out", b, { equals: "hello\n", contains: ["ell"], notContains: ["x"], matches: "^h", bytes: 6, base64: b.toString("base64") }), []);
  assert.equal(checkBytes("out", b, { sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" }), []);
  for (const e of [{ equals: "hello" }, { contains: ["bye"] }, { notContains: ["ell"] }, { matches: "^x" }, { bytes: 5 }, { base64: "AAAA" }, { sha256: "0".repeat(64) }]) {
    assert.is(checkBytes("out", b, e).length, 1, JSON.stringify(e));
  }
});

function result(over: Partial<PipelineResult> = {}): PipelineResult {
  return {
    status: 0, exitCode: 0, signal: null, timedOut: false, stdout: Buffer.from("hi\n"), stderr: Buffer.alloc(0),
    truncated: { stdout: false, stderr: false, outputs: [] }, outputs: { "/f": Buffer.from("x"), "/gone": null }, notReturned: {}, savedOutputs: {},
    metrics: { wallMs: 1, prepareMs: 0, bootMs: 1, runMs: 1, userMs: 0, sysMs: 0, maxRssKiB: 1, transport: "vsock", kernelBootMs: 1, vmMs: 1 },
    image: { digest: "sha256:" + "0".repeat(64), cached: true }, guestError: null, forgedFrames: 0, vm: null,
    ...over,
  };
}

test("expectations: status, outputs, runner failures", () => {
  assert.equal(checkExpectations({ status: 0, stdout: { equals: "hi\n" }, outputs: { "/f": { equals: "x" }, "/gone": null } }, { result: result() }), []);
  assert.equal(checkExpectations({ status: 1 }, { result: result() }), ["status: expected 1, got 0"]);
  assert.equal(checkExpectations({ outputs: { "/gone": { equals: "x" } } }, { result: result() }), ["output /gone: did not come back"]);
  assert.equal(checkExpectations({ outputs: { "/f": null } }, { result: result() }), ['output /f: expected none, got "x"']);
  // A runner failure fails every scenario that did not ask for one, and passes one that did.
  assert.match(checkExpectations({ status: 0 }, { error: "no command to run" })[0]!, /the runner failed: no command to run/);
  assert.equal(checkExpectations({ error: { contains: ["no command"] } }, { error: "no command to run" }), []);
  assert.match(checkExpectations({ error: { contains: ["x"] } }, { result: result() })[0]!, /expected a runner failure/);
  assert.match(checkExpectations({ status: 0 }, { result: result({ error: "no guest", status: 125 }) }).join("|"), /the runner failed: no guest/);
});

test("expectations: the guest's reason for not running the command", () => {
  const notFound = result({ status: 127, exitCode: null, guestError: "cannot execute /nope: No such file or directory" });
  assert.equal(checkExpectations({ status: 127, guestError: { contains: ["/nope"] } }, { result: notFound }), []);
  assert.match(checkExpectations({ guestError: { contains: ["/other"] } }, { result: notFound }).join("|"), /guestError: does not contain "\/other"/);
  assert.match(checkExpectations({ guestError: { contains: ["/nope"] } }, { result: result() }).join("|"), /guestError: expected the guest to report/);
});

test("envFill makes the variables the scenario asks for", () => {
  const env = filledEnv({ prefix: "BIG_", count: 3, valueBytes: 5 });
  assert.equal(env, ["BIG_0=0:0:0", "BIG_1=1:1:1", "BIG_2=2:2:2"]);
  const s = loadScenarios().find((x) => x.name === "large_env")!;
  const options = pipelineOptionsFor(s, "/img", {});
  assert.is(options.env!.filter((e) => e.startsWith("BIG_")).length, 300);
  assert.is(options.bootTimeoutSec, 900);
});

test.run();
