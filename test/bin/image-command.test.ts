// bencher-run image: the README's example image, built in two formats, is one image (same ID).
import { execFileSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../lib/paths.js";
import { runCli } from "./helpers.js";

const example = join(projectRoot, "examples", "hello-bench.json");
const work = mkdtempSync(join(tmpdir(), "bencher-image-cmd-"));

test("the example builds as an OCI layout and a docker-save archive with the same image ID", async () => {
  const oci = await runCli(["image", example, "--out", join(work, "img.oci"), "--json"]);
  const docker = await runCli(["image", example, "--out", join(work, "img.tar"), "--format", "docker-archive", "--json"]);
  assert.is(oci.exitCode, 0, oci.stderr);
  assert.is(docker.exitCode, 0, docker.stderr);
  const a = JSON.parse(oci.stdout), b = JSON.parse(docker.stdout);
  assert.match(a.id, /^sha256:[0-9a-f]{64}$/);
  assert.is(a.id, b.id);
  assert.ok(existsSync(join(work, "img.oci", "index.json")));
});

test("a missing description or bad JSON is one line and exit 1; an unknown format, a usage error, exit 2", async () => {
  const missing = await runCli(["image", join(work, "nope.json"), "--out", join(work, "x")]);
  assert.is(missing.exitCode, 1);
  assert.match(missing.stderr, /^bencher-run: image description .*nope\.json: no such file$/);
  const dir = await runCli(["image", work, "--out", join(work, "x")]);
  assert.is(dir.exitCode, 1);
  assert.is(dir.stderr, `bencher-run: image description ${work}: is a directory, expected a file`);
  writeFileSync(join(work, "bad.json"), "{ not json");
  const bad = await runCli(["image", join(work, "bad.json"), "--out", join(work, "z")]);
  assert.is(bad.exitCode, 1);
  assert.match(bad.stderr, /^bencher-run: image description .*bad\.json: .*JSON/);
  // Parses, but is not a description the builder (or unpack, later) can take: named by its place in the JSON.
  const cases: [object, string][] = [
    [{ base: "ubuntu" }, 'base: "ubuntu": expected one of busybox, scratch'],
    [{ config: { cmd: "notarray" } }, "config.cmd: expected an array of strings"],
    [{ bogusField: 1 }, "bogusField: unknown field (expected one of base, baseCompression, layers, config, platform)"],
    [{ layers: [{ entries: [{ type: "socket", path: "/s" }] }] }, 'layers[0].entries[0].type: "socket": expected one of file, dir, symlink, hardlink, whiteout, opaque, chardev, blockdev, fifo'],
    [{ layers: [{ entries: [{ type: "file", path: "/f", hostFile: "/nonexistent" }] }] }, "layers[0].entries[0].hostFile: /nonexistent: no such file"],
    [{ layers: [{ tarFile: "/nonexistent" }] }, "layers[0].tarFile: /nonexistent: no such file"],
    [{ layers: [{ entries: [{ type: "file", path: "/f", content: "a", base64: "YQ==" }] }] }, "layers[0].entries[0]: give one of content, base64, hostFile, random, not content and base64"],
  ];
  for (const [description, problem] of cases) {
    writeFileSync(join(work, "wrong.json"), JSON.stringify(description));
    const wrong = await runCli(["image", join(work, "wrong.json"), "--out", join(work, "w")]);
    assert.is(wrong.exitCode, 1, wrong.stderr);
    assert.is(wrong.stderr, `bencher-run: image description ${join(work, "wrong.json")}: ${problem}`);
  }
  const format = await runCli(["image", example, "--out", join(work, "y"), "--format", "zip"]);
  assert.is(format.exitCode, 2);
  assert.match(format.stderr, /--format "zip": expected one of/);
  assert.not.ok(["x", "y", "z", "w"].some((name) => existsSync(join(work, name))), "nothing written");
});

test("an --out that exists or cannot be made is one line, and nothing is written", async () => {
  const file = join(work, "a-file");
  writeFileSync(file, "x");
  const exists = await runCli(["image", example, "--out", file]);
  assert.is(exists.exitCode, 1);
  assert.is(exists.stderr, `bencher-run: --out ${file}: already exists (--force replaces it)`);
  const under = await runCli(["image", example, "--out", join(file, "img.oci")]);
  assert.is(under.exitCode, 1);
  assert.is(under.stderr, `bencher-run: --out ${join(file, "img.oci")}: ${file} exists and is not a directory`);
  // Node's own recursive mkdir would spin here for good.
  const proc = await runCli(["image", example, "--out", "/proc/bencher-no-such/img.tar", "--format", "oci-archive"], {}, 60_000);
  assert.is(proc.stderr, "bencher-run: --out /proc/bencher-no-such/img.tar: cannot create directory /proc/bencher-no-such: /proc does not take new directories");
  assert.is(proc.exitCode, 1);
});

test("--force replaces an image (a directory or an archive), never anything else", async () => {
  const other = join(work, "other.json");
  writeFileSync(other, JSON.stringify({ base: "scratch", layers: [{ entries: [{ type: "file", path: "/x", content: "x" }] }] }));
  for (const [name, format] of [["force.oci", "oci-dir"], ["force.tar", "oci-archive"], ["force-docker", "docker-dir"], ["force-docker.tar", "docker-archive"]]) {
    const out = join(work, name);
    const first = await runCli(["image", example, "--out", out, "--format", format, "--json"]);
    assert.is(first.exitCode, 0, first.stderr);
    const again = await runCli(["image", other, "--out", out, "--format", format, "--force", "--json"]);
    assert.is(again.exitCode, 0, again.stderr);
    assert.is.not(JSON.parse(again.stdout).id, JSON.parse(first.stdout).id);
    // The image now at --out is the second one: unpack reads it.
    const tree = join(work, `${name}-tree`);
    const unpacked = await runCli(["unpack", "--image", out, "--out", tree], { BENCHER_RUN_CACHE: join(work, "cache") });
    assert.is(unpacked.exitCode, 0, unpacked.stderr);
    assert.is(readFileSync(join(tree, "rootfs", "x"), "utf8"), "x");
  }
  assert.equal(readdirSync(work).filter((n) => n.startsWith(".")), [], "no build or old image left beside them");

  // A directory that holds no image (a mistyped --out) is never deleted.
  const mine = join(work, "my-files");
  mkdirSync(mine);
  writeFileSync(join(mine, "precious"), "keep");
  const refused = await runCli(["image", example, "--out", mine, "--force"]);
  assert.is(refused.exitCode, 1);
  assert.is(refused.stderr, `bencher-run: --out ${mine}: exists and is not an image directory (no oci-layout or manifest.json), not replaced`);
  assert.is(readFileSync(join(mine, "precious"), "utf8"), "keep");

  // Nor one that has an oci-layout among the user's own files, nor a tar of such a directory.
  writeFileSync(join(mine, "oci-layout"), "{}");
  mkdirSync(join(mine, "photos"));
  writeFileSync(join(mine, "photos", "a.jpg"), "jpeg");
  const marked = await runCli(["image", example, "--out", mine, "--force"]);
  assert.is(marked.exitCode, 1);
  assert.is(marked.stderr, `bencher-run: --out ${mine}: exists and holds "photos", which no image has, not replaced`);
  assert.equal(readdirSync(mine).sort(), ["oci-layout", "photos", "precious"]);
  const backup = join(work, "backup.tar");
  execFileSync("tar", ["-cf", backup, "-C", mine, "oci-layout", "precious"]);
  const tarred = await runCli(["image", example, "--out", backup, "--format", "oci-archive", "--force"]);
  assert.is(tarred.exitCode, 1);
  assert.is(tarred.stderr, `bencher-run: --out ${backup}: exists and is a tar file holding "precious", which no image has, not replaced`);
  assert.ok(execFileSync("tar", ["-tf", backup], { encoding: "utf8" }).includes("precious"));
  rmSync(backup);

  // Nor a symlink, even to an image.
  const link = join(work, "link.oci");
  symlinkSync(join(work, "force.oci"), link);
  const linked = await runCli(["image", example, "--out", link, "--force"]);
  assert.is(linked.stderr, `bencher-run: --out ${link}: is a symlink (--force replaces an image, never what a link points at), not replaced`);
  assert.ok(lstatSync(link).isSymbolicLink());

  // Nor a file that is not an image archive.
  for (const content of ["precious thesis draft\n", ""]) {
    const notes = join(work, "notes.txt");
    writeFileSync(notes, content);
    const refusedFile = await runCli(["image", example, "--out", notes, "--format", "oci-archive", "--force"]);
    assert.is(refusedFile.exitCode, 1);
    assert.is(refusedFile.stderr, `bencher-run: --out ${notes}: exists and is not an image archive (not a tar file), not replaced`);
    assert.is(readFileSync(notes, "utf8"), content);
    rmSync(notes);
  }

  // A description that is refused leaves the old image as it was.
  const bad = join(work, "bad-layer.json");
  // (A build stopped half-way leaves it too: test/bin/interrupt.test.ts.)
  writeFileSync(bad, JSON.stringify({ base: "busybox", layers: [{ tarFile: join(work, "no-such-file") }] }));
  const before = readFileSync(join(work, "force.oci", "index.json"), "utf8");
  const failed = await runCli(["image", bad, "--out", join(work, "force.oci"), "--force"]);
  assert.is(failed.exitCode, 1, failed.stderr);
  assert.is(readFileSync(join(work, "force.oci", "index.json"), "utf8"), before);
  assert.is(failed.stderr.split("\n").length, 1, failed.stderr);
  const kept = await runCli(["image", other, "--out", join(work, "force.oci"), "--force", "--json"]);
  assert.is(kept.exitCode, 0, kept.stderr);
  assert.equal(readdirSync(work).filter((n) => n.startsWith(".")), []);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
