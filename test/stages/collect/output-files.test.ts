// Output files come back into the output directory and nowhere else: names
// derived from the request's guest paths, never from what the guest sends.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { hostNameForOutput, hostNamesForOutputs } from "../../../stages/collect/output-names.js";
import { parseCollectRequest } from "../../../stages/collect/request.js";
import { toJsonResult } from "../../../stages/collect/json-result.js";
import type { CollectedFile } from "../../../stages/collect/output-files.js";
import { isRoot, makeRootfs, requestFor, runWithGuest, socketDir, socketPathIn } from "./harness.js";

const storeOnSmallDisk = fileURLToPath(new URL("./fixtures/store-on-small-disk.js", import.meta.url));
let root = "";
let dir = "";
let work = "";
test.before(() => {
  dir = socketDir();
  work = mkdtempSync(join(tmpdir(), "collect-out-"));
  if (isRoot) root = makeRootfs();
});
test.after(() => {
  for (const d of [root, dir, work]) if (d) rmSync(d, { recursive: true, force: true });
});

function freshDir(name: string): string {
  const d = join(work, name);
  mkdirSync(d);
  return d;
}

test("a disk that fills up mid-file loses that file whole, not the next: no partial file is left or named as saved", () => {
  // A 64 KiB tmpfs as the output dir, mounted in a user+mount namespace of our own (no host root needed).
  const outputDir = freshDir("small-disk");
  const script = `mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" "$3" "$1" 204800`;
  const out = execFileSync("unshare", ["--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", outputDir, process.execPath, storeOnSmallDisk], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { files, left } = JSON.parse(out) as { files: CollectedFile[]; left: string[] };
  const [big, small] = files;
  assert.match(big!.error!, /^cannot save \/data\/big on the host: .*ENOSPC/);
  assert.equal([big!.hostPath, big!.bytes, big!.truncated], [null, 0, false]);
  assert.equal([small!.hostPath, small!.bytes, small!.error], [join(outputDir, "data/small"), 6, undefined]);
  assert.equal(left, ["data", "data/small"]);
});

test("host names: the guest path made relative, every .. resolved inside /", () => {
  assert.is(hostNameForOutput("/data/result.txt"), "data/result.txt");
  assert.is(hostNameForOutput("/a//b/./c"), "a/b/c");
  assert.is(hostNameForOutput("/../../etc/passwd"), "etc/passwd");
  assert.is(hostNameForOutput("/a/../../../b"), "b");
  assert.is(hostNameForOutput("/..."), "...");
  for (const bad of ["/", "/a/", "relative", "/..", "/a/..", "", "/a\0b"]) {
    assert.throws(() => hostNameForOutput(bad), /output path/, bad);
  }
});

test("host names: two guest paths for one host file, or a file inside another, are refused", () => {
  assert.throws(() => hostNamesForOutputs(["/a/b", "/a//b"]), /are the same file/);
  assert.throws(() => hostNamesForOutputs(["/x/../a", "/a"]), /are the same file/);
  assert.throws(() => hostNamesForOutputs(["/a", "/a/b"]), /is inside output path "\/a"/);
  assert.equal(hostNamesForOutputs(["/a/b", "/a/c", "/ab"]), ["a/b", "a/c", "ab"]);
  // Files are read back whole, and Node reads none of 2 GiB or more in one piece: the limit stops short of that.
  assert.throws(() => parseCollectRequest({ socketPath: "/tmp/s_1", job: { argv: ["x"], maxFileBytes: 2 ** 31 } }), /^collect request: maxFileBytes must be a whole number from 0 to 1073741824, got 2147483648$/);
  assert.throws(
    () => parseCollectRequest({ socketPath: "/tmp/s_1", job: { argv: ["x"], outputPaths: ["/..", "/a"] } }),
    /^collect request: job\.outputPaths: output path "\/\.\." names no file$/,
  );
});

if (isRoot) {
  test("present, missing and not-regular files; saved under the output dir, their names from the request", async () => {
    const blob = randomBytes(200_000);
    writeFileSync(join(root, "data/blob.bin"), blob);
    writeFileSync(join(root, "data/hello.txt"), "hello\n");
    const outputDir = freshDir("basic");
    const outputPaths = ["/data/hello.txt", "/data/blob.bin", "/data/none", "/etc", "/tmp/made"];
    const req = requestFor(socketPathIn(dir), ["sh", "-c", "echo made > /tmp/made"], { outputDir }, { outputPaths });
    const { result } = await runWithGuest(req, { root });
    assert.ok(result.complete, result.error);
    assert.equal(result.outputs, {
      "/data/hello.txt": join(outputDir, "data/hello.txt"),
      "/data/blob.bin": join(outputDir, "data/blob.bin"),
      "/data/none": null,
      "/etc": null,
      "/tmp/made": join(outputDir, "tmp/made"),
    });
    assert.equal(result.files.map((f) => f.status), ["present", "present", "missing", "not-regular", "present"]);
    assert.ok(readFileSync(join(outputDir, "data/blob.bin")).equals(blob));
    assert.is(readFileSync(join(outputDir, "tmp/made"), "utf8"), "made\n");
    assert.equal(readdirSync(outputDir).sort(), ["data", "tmp"]);
    const json = toJsonResult(result);
    assert.is(json.outputs["/data/hello.txt"], "hello\n");
    assert.is(json.outputs["/data/none"], null);
    assert.ok(Buffer.from(json.outputsBase64!["/data/blob.bin"]!, "base64").equals(blob), "binary content has its base64 twin");
    assert.not.ok("/data/hello.txt" in json.outputsBase64!);
    assert.equal(json.truncated.outputs, []);
  });

  test("without an output dir the files come back in memory", async () => {
    writeFileSync(join(root, "data/mem.txt"), "in memory\n");
    const req = requestFor(socketPathIn(dir), ["true"], {}, { outputPaths: ["/data/mem.txt"] });
    const { result } = await runWithGuest(req, { root });
    assert.is(result.files[0]!.data!.toString(), "in memory\n");
    assert.is(result.outputs["/data/mem.txt"], null);
    assert.is(toJsonResult(result).outputs["/data/mem.txt"], "in memory\n");
  });

  test("a file past the max file size is cut and says so", async () => {
    writeFileSync(join(root, "data/big"), Buffer.alloc(10_000, 7));
    const outputDir = freshDir("cut");
    const req = requestFor(socketPathIn(dir), ["true"], { outputDir }, { outputPaths: ["/data/big"], maxFileBytes: 4096 });
    const { result } = await runWithGuest(req, { root });
    assert.is(readFileSync(join(outputDir, "data/big")).length, 4096);
    assert.ok(result.files[0]!.truncated);
    assert.is(result.files[0]!.size, 10_000);
    assert.equal(toJsonResult(result).truncated.outputs, ["/data/big"]);
  });

  test("path tricks land inside the output dir; a planted symlink there is not followed", async () => {
    writeFileSync(join(root, "data/secret"), "guest data\n");
    mkdirSync(join(root, "data2"), { recursive: true });
    writeFileSync(join(root, "data2/other"), "other\n");
    const outputDir = freshDir("tricks");
    const outside = freshDir("outside");
    symlinkSync(outside, join(outputDir, "data")); // someone planted data -> outside
    const req = requestFor(socketPathIn(dir), ["true"], { outputDir }, { outputPaths: ["/../../data/../data/secret", "/tmp/../../data2/other"] });
    // The guest path resolves to /data/secret in the guest; on the host it may only become <dir>/data/secret.
    const { result } = await runWithGuest(req, { root });
    assert.ok(result.complete, result.error);
    assert.equal(readdirSync(outside), [], "nothing written through the symlink");
    assert.is(result.outputs["/../../data/../data/secret"], null);
    assert.match(result.files[0]!.error!, /exists and is not a directory/);
    assert.is(readFileSync(join(outputDir, "data2/other"), "utf8"), "other\n");
    assert.not.ok(existsSync(join(work, "data2")));
  });

  test("an existing file in the output dir is not overwritten", async () => {
    writeFileSync(join(root, "data/clash"), "from guest\n");
    const outputDir = freshDir("clash");
    mkdirSync(join(outputDir, "data"));
    writeFileSync(join(outputDir, "data/clash"), "mine\n");
    const req = requestFor(socketPathIn(dir), ["true"], { outputDir }, { outputPaths: ["/data/clash"] });
    const { result } = await runWithGuest(req, { root });
    assert.is(readFileSync(join(outputDir, "data/clash"), "utf8"), "mine\n");
    assert.is(result.outputs["/data/clash"], null);
    assert.match(result.files[0]!.error!, /EEXIST/);
    assert.match(result.error!, /^cannot save \/data\/clash on the host: .*EEXIST/, "the result says what was lost");
  });
}

test.run();
