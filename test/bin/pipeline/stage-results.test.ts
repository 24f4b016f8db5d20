// The coordinator treats what a stage sends back as hostile: a compromised
// stage (a small program run through the real sandboxed call path, as the
// pipeline runs its stages) cannot make it read, bind or print what it chose.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runStage } from "../../../bin/pipeline/stage-runner.js";
import { cacheIdentity, readRunConfig } from "../../../bin/pipeline/root-image.js";
import { RegistryPin, pinnedReference } from "../../../bin/pipeline/registry-pin.js";
import { parseReference } from "../../../stages/unpack/reference.js";
import { describeError } from "../../../lib/ipc/errors.js";
import { giveToStage } from "../../../lib/sandbox/stage-identity.js";
import type { StageName } from "../../../lib/sandbox/stage-policy.js";
import { parseUnpackResult } from "../../../stages/unpack/result.js";
import { parseMkrootfsResult } from "../../../stages/mkrootfs/result.js";
import { parseCollectResult, readCollectedFile } from "../../../stages/collect/result.js";
import { parseBootResult } from "../../../stages/boot/result.js";

const hostile = fileURLToPath(new URL("./fixtures/hostile-stage.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "stage-results-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** A secret only the coordinator (root, in production) can read. */
const secret = join(work, "secret.pem");
writeFileSync(secret, "PRIVATE KEY\n", { mode: 0o600 });

function dir(name: string): string {
  const d = join(work, name);
  mkdirSync(d, { recursive: true });
  giveToStage(d);
  return d;
}

/** Runs the compromised `stage` answering `body`, with the coordinator's check; resolves to the result or the error's one line. */
async function call<Res>(stage: StageName, body: unknown, writable: string[], parse: (raw: unknown) => Res): Promise<Res | string> {
  try {
    return await runStage<Res>(stage, {}, { writable, command: [process.execPath, hostile, JSON.stringify(body)] }, {}, parse);
  } catch (err) {
    const line = describeError(err);
    assert.not.ok(line.includes("\n"), "one line");
    return line;
  }
}

const digest = `sha256:${"a".repeat(64)}`;
const unpackBody = (out: string, over: Record<string, unknown> = {}) => ({
  rootfs: join(out, "rootfs"), metadata: join(out, "metadata.jsonl"), config: join(out, "config.json"), digest, layers: 1, files: 2, bytes: 3, ...over,
});

test("unpack: a result naming a config outside its out dir is refused", async () => {
  const out = dir("unpack-config");
  const r = await call("unpack", unpackBody(out, { config: secret }), [out], (raw) => parseUnpackResult(raw, out));
  assert.is(r, `unpack: invalid result: config must be ${join(out, "config.json")}`);
});

test("unpack: a null result or fields of the wrong type are one-line errors, never a TypeError", async () => {
  const out = dir("unpack-shape");
  assert.is(await call("unpack", null, [out], (raw) => parseUnpackResult(raw, out)), "unpack: invalid result: result must be an object");
  assert.is(await call("unpack", unpackBody(out, { layers: "many" }), [out], (raw) => parseUnpackResult(raw, out)),
    "unpack: invalid result: layers must be a whole number from 0 to 9007199254740991");
});

test("unpack: escape sequences in a printed field are refused", async () => {
  const out = dir("unpack-escape");
  const r = await call("unpack", unpackBody(out, { digest: `${digest}\u001b[2J` }), [out], (raw) => parseUnpackResult(raw, out));
  assert.is(r, "unpack: invalid result: digest must not contain control characters");
});

test("unpack: a well-formed result passes", async () => {
  const out = dir("unpack-good");
  assert.equal(await call("unpack", unpackBody(out), [out], (raw) => parseUnpackResult(raw, out)), unpackBody(out));
});

test("unpack's config.json: a symlink to a secret, a FIFO, or a huge file is refused, and nothing hangs", () => {
  const out = dir("config-kinds");
  const config = join(out, "config.json");
  symlinkSync(secret, config);
  assert.throws(() => readRunConfig(config), /unpack: invalid result: .*ELOOP/);
  rmSync(config);
  execFileSync("mkfifo", [config]);
  assert.throws(() => readRunConfig(config), /unpack: invalid result: .*is not a regular file/);
  rmSync(config);
  writeFileSync(config, Buffer.alloc((4 << 20) + 1, 32));
  assert.throws(() => readRunConfig(config), /unpack: invalid result: .*more than 4194304/);
  writeFileSync(config, JSON.stringify({ digest, cmd: ["/bin/true"] }));
  assert.equal(readRunConfig(config), { digest, cmd: ["/bin/true"] });
});

test("unpack: a config.json digest other than the local image's own is refused; a local image's entry is keyed by its verified layers, a registry image's by its pinned reference, whatever unpack claims", () => {
  const runConfig = { digest, env: [], workingDir: "/", entrypoint: null, cmd: null, user: "", platform: "linux/amd64" };
  const path = "/run/unpack/config.json";
  const layerDigests = [`sha256:${"d".repeat(64)}`];
  assert.equal(cacheIdentity(runConfig, { digest, layerDigests }, null, path), { digest, origin: { verifiedLayers: layerDigests } });
  const other = `sha256:${"c".repeat(64)}`;
  assert.throws(() => cacheIdentity(runConfig, { digest: other, layerDigests }, null, path),
    (err: Error) => err.message === `unpack: invalid result: ${path}: digest ${digest} is not the image's ${other}`);
  const pin = `sha256:${"e".repeat(64)}`;
  const pinned = pinnedReference(parseReference("registry.example/bench:1"), pin);
  assert.equal(pinned, { reference: `registry.example/bench@${pin}`, digest: pin }, "the tag is dropped: the digest names the image");
  assert.equal(cacheIdentity(runConfig, null, pinned, path), { digest: pin, origin: { claimedBy: `registry.example/bench@${pin}` } });
  assert.throws(() => cacheIdentity({ ...runConfig, digest: "../../x" }, null, pinned, path), /digest must be an OCI digest/);
  assert.throws(() => cacheIdentity({ ...runConfig, platform: "linux/\u001b[31m" }, null, pinned, path), /platform must be os\/architecture/);
});

test("unpack: a registry reference is pinned by the first `resolved` event; a second one, a bad digest or another digest than a reference's own fails the run", () => {
  const pin = `sha256:${"e".repeat(64)}`;
  const tag = new RegistryPin("docker://registry.example/bench:1");
  assert.is(tag.pinned, null);
  assert.equal(tag.resolved({ digest: pin, extra: "ignored" }), { reference: `registry.example/bench@${pin}`, digest: pin });
  assert.equal(tag.checked(), { reference: `registry.example/bench@${pin}`, digest: pin });
  // What a compromised unpack says after its first word changes nothing.
  assert.is(tag.resolved({ digest: `sha256:${"f".repeat(64)}` }), null);
  assert.is(tag.pinned?.digest, pin);
  assert.throws(() => tag.checked(), (err: Error) => err.message === "unpack: invalid result: it told the digest the reference names twice");

  const problem = (body: unknown, image = "registry.example/bench:1") => {
    const p = new RegistryPin(image);
    assert.is(p.resolved(body), null);
    assert.throws(() => p.checked());
    return p.problem ?? "";
  };
  assert.match(problem({ digest: "sha256:../../x" }), /^digest must be a digest/);
  assert.match(problem("sha256:x"), /^resolved event must be an object/);
  // A well-formed digest of an algorithm a reference cannot name.
  assert.match(problem({ digest: `md5:${"a".repeat(32)}` }), /not a sha256\/sha512 digest/);
  assert.is(problem({ digest: `sha256:${"f".repeat(64)}` }, `registry.example/bench@${pin}`), `it resolved registry.example/bench@${pin} to sha256:${"f".repeat(64)}`);

  const byDigest = new RegistryPin(`registry.example/bench:1@${pin}`);
  assert.equal(byDigest.pinned, { reference: `registry.example/bench@${pin}`, digest: pin }, "pinned from the start, the tag dropped");
  assert.is(byDigest.resolved({ digest: pin }), null, "nothing newly pinned");
  assert.equal(byDigest.checked(), byDigest.pinned);
  assert.throws(() => new RegistryPin("registry.example/bench:1").checked(), /did not tell the digest the reference names before unpacking it/);
  assert.throws(() => new RegistryPin("registry.example/UPPER"), /^unpack: image reference .*not a valid repository name/);
});

const mkrootfsBody = (image: string) => ({ image, fs: "ext4", bytes: 1 });

test("mkrootfs: an image other than the out it was given (a file root can read) is refused", async () => {
  const staging = dir("mkrootfs-outside");
  const out = join(staging, "image.ext4");
  const r = await call("mkrootfs", mkrootfsBody(secret), [staging], (raw) => parseMkrootfsResult(raw, { fs: "ext4", out }));
  assert.is(r, `mkrootfs: invalid result: image must be ${out}`);
});

test("mkrootfs: a symlink where the image should be is refused; a real image passes", async () => {
  const staging = dir("mkrootfs-symlink");
  const image = join(staging, "image.ext4");
  symlinkSync(secret, image);
  const r = await call("mkrootfs", mkrootfsBody(image), [staging], (raw) => parseMkrootfsResult(raw, { fs: "ext4", out: image }));
  assert.is(r, `mkrootfs: invalid result: image ${image} is not a regular file (a symlink)`);
  rmSync(image);
  writeFileSync(image, "x");
  assert.equal(await call("mkrootfs", mkrootfsBody(image), [staging], (raw) => parseMkrootfsResult(raw, { fs: "ext4", out: image })), mkrootfsBody(image));
});

const collectBody = (files: unknown[]) => ({
  complete: true, exitCode: 0, signal: null, timedOut: false, bootTimedOut: false,
  stdout: { $bytes: "out" }, stderr: { $bytes: "" },
  outputBytes: { stdout: 3, stderr: 0 }, truncated: { stdout: false, stderr: false },
  outputs: {}, files,
  metrics: {
    wallMs: 5, connectedMs: 1, bootMs: 2, startedMs: 3, exitedMs: 4, runMs: 0.5, userMs: 0.1, sysMs: 0.2, maxRssKiB: 100,
    transport: "vsock", streamFrames: 3, consoleFrames: 0, duplicateFrames: 0,
  },
  forgedFrames: 0, rejectedFrames: [], guestError: null, diagnostics: ["bencher-init: \u001b[31mred"],
});
const file = (hostPath: string | null) => ({ guestPath: "/bench/result.json", status: "present", size: 4, bytes: 4, truncated: false, hostPath, data: null });

test("collect: a saved file's hostPath outside the output directory (a secret) is refused", async () => {
  const outputDir = dir("collect-outside");
  const r = await call("collect", collectBody([file(secret)]), [outputDir], (raw) => parseCollectResult(raw, { outputPaths: ["/bench/result.json"], outputDir }));
  assert.is(r, `collect: invalid result: files[0].hostPath must be null or ${join(outputDir, "bench", "result.json")}`);
});

test("collect: a symlink planted where the file should be is an error naming the guest path, not the secret's contents", async () => {
  const outputDir = dir("collect-symlink");
  const hostPath = join(outputDir, "bench", "result.json");
  mkdirSync(join(outputDir, "bench"));
  symlinkSync(secret, hostPath);
  const result = await call("collect", collectBody([file(hostPath)]), [outputDir], (raw) => parseCollectResult(raw, { outputPaths: ["/bench/result.json"], outputDir }));
  assert.type(result, "object", String(result));
  const collected = result as Exclude<typeof result, string>;
  assert.is(collected.diagnostics[0], "bencher-init: \\x1b[31mred", "the guest's escape sequence does not reach a terminal");
  assert.throws(() => readCollectedFile(collected.files[0]!, outputDir, 1 << 20), (err: Error) => err.message === "output /bench/result.json: the collect stage left a symlink, not the file");
  // A symlinked directory on the way is refused as well.
  rmSync(join(outputDir, "bench"), { recursive: true });
  symlinkSync(work, join(outputDir, "bench"));
  writeFileSync(join(work, "result.json"), "elsewhere");
  assert.throws(() => readCollectedFile(collected.files[0]!, outputDir, 1 << 20), /output \/bench\/result.json: the collect stage left .*bench, which is not a directory/);
  // The real thing is read.
  rmSync(join(outputDir, "bench"));
  mkdirSync(join(outputDir, "bench"));
  writeFileSync(hostPath, "{}\n");
  assert.is(readCollectedFile(collected.files[0]!, outputDir, 1 << 20).toString(), "{}\n");
});

test("boot: a console log it was not asked for, or a wrong exit reason, is refused", async () => {
  const bootDir = dir("boot");
  const body = { exitReason: "power-off", wallMs: 10, startupMs: 1, assists: {}, consoleLog: secret };
  const r = await callBoot(body, bootDir);
  assert.is(r, `boot: invalid result: consoleLog must be ${join(bootDir, "console.log")}`);
  assert.match(String(await callBoot({ ...body, consoleLog: undefined, exitReason: "\u001b]0;owned\u0007" }, bootDir)), /^boot: invalid result: exitReason must be one of power-off, /);
});

/** boot needs a /dev/kvm descriptor to be started at all; any open fd stands in (the hostile stage never uses it). */
async function callBoot(body: unknown, bootDir: string): Promise<unknown> {
  const { openSync, closeSync } = await import("node:fs");
  const fd = openSync("/dev/null", "r");
  try {
    return await runStage("boot", {}, { writable: [bootDir], kvmFd: fd, command: [process.execPath, hostile, JSON.stringify(body)] }, {},
      (raw) => parseBootResult(raw, join(bootDir, "console.log")));
  } catch (err) {
    return describeError(err);
  } finally {
    closeSync(fd);
  }
}

test.run();
