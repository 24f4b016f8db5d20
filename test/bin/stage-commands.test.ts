// The stage subcommands as a shell script would chain them: unpack an OCI
// layout, build its ext4 image, read the JSON manifests; and bad input.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { buildImage } from "../../lib/oci/build-image.js";
import { runCli } from "./helpers.js";
import { readImageFile, statPath } from "../stages/mkrootfs/inspect.js";
import { execFileSync } from "node:child_process";

const work = mkdtempSync(join(tmpdir(), "cli-stages-test-"));
const cache = join(work, "cache");
const env = { BENCHER_RUN_CACHE: cache };
const layout = join(work, "layout");
test.before(async () => {
  await buildImage({
    layers: [{ entries: [{ type: "dir", path: "data" }, { type: "file", path: "data/hello.txt", content: "hello from the image\n", uid: 1000, gid: 1000 }] }],
    config: { cmd: ["/bin/cat", "/data/hello.txt"] },
  }, { format: "oci-dir", out: layout });
});
test.after(() => rmSync(work, { recursive: true, force: true }));

test("unpack → mkrootfs from the shell, with JSON manifests", async () => {
  const unpacked = join(work, "unpacked");
  const u = await runCli(["unpack", "--image", layout, "--out", unpacked, "--json"], env);
  assert.is(u.exitCode, 0, u.stderr);
  const manifest = JSON.parse(u.stdout);
  assert.is(manifest.stage, "unpack");
  assert.is(manifest.rootfs, join(unpacked, "rootfs"));
  assert.is(readFileSync(join(manifest.rootfs, "data", "hello.txt"), "utf8"), "hello from the image\n");
  assert.match(readFileSync(manifest.metadata, "utf8"), /"path":"\/data\/hello.txt","uid":1000,"gid":1000/);

  const image = join(work, "root.ext4");
  const m = await runCli(["mkrootfs", "--input", unpacked, "--out", image, "--json"], env);
  assert.is(m.exitCode, 0, m.stderr);
  const built = JSON.parse(m.stdout);
  assert.is(built.image, image);
  assert.is(built.fs, "ext4");
  assert.is(statSync(image).size, built.bytes);
  assert.is(statSync(image).uid, process.getuid!(), "the image is the caller's, whoever the stage ran as");
  const cat = await execa("debugfs", ["-R", "cat /data/hello.txt", image], { reject: false });
  assert.is(cat.stdout, "hello from the image");
  assert.equal(readdirSync(join(cache, "runs")), [], "the run's work directory is gone");

  const again = await runCli(["mkrootfs", "--input", unpacked, "--json"], env);
  assert.is(again.exitCode, 0, again.stderr);
  const cached = JSON.parse(again.stdout);
  assert.is(cached.cached, true);
  assert.ok(cached.image.startsWith(join(cache, "rootfs") + "/"), `cached image lands in the host's cache: ${cached.image}`);
  assert.ok(existsSync(cached.image));
  // A cache hit copied to --out: the copy is the caller's and writable; the cached image stays the runner's, read-only (no stage may change it).
  const copy = join(work, "copy.ext4");
  const hit = await runCli(["mkrootfs", "--input", unpacked, "--out", copy, "--json"], env);
  assert.is(JSON.parse(hit.stdout).cached, true, hit.stderr);
  assert.equal([statSync(copy).uid, statSync(copy).mode & 0o777], [process.getuid!(), 0o644]);
  assert.equal([statSync(cached.image).uid, statSync(cached.image).mode & 0o777], [process.getuid!(), 0o444], "the cache's own image is untouched");
});

test("without --json and not on a terminal: one summary line, no progress noise", async () => {
  const out = join(work, "quiet");
  const r = await runCli(["unpack", "--image", layout, "--out", out], env);
  assert.is(r.exitCode, 0);
  assert.is(r.stdout.split("\n").length, 1);
  assert.match(r.stdout, /^unpacked sha256:[0-9a-f]{64} /);
  assert.is(r.stderr, "");
});

test("bad input: one line naming it, non-zero exit, nothing left behind", async () => {
  const missing = await runCli(["unpack", "--image", join(work, "nope"), "--out", join(work, "o1")], env);
  assert.is(missing.exitCode, 1);
  assert.is(missing.stderr.split("\n").length, 1);
  assert.match(missing.stderr, /^bencher-run: unpack: .*nope/);
  assert.not.ok(existsSync(join(work, "o1")), "the output directory the command made is removed");

  const notEmpty = join(work, "full");
  mkdirSync(notEmpty);
  writeFileSync(join(notEmpty, "x"), "");
  const full = await runCli(["unpack", "--image", layout, "--out", notEmpty], env);
  assert.is(full.stderr, `bencher-run: --out ${notEmpty}: directory is not empty`);
  const proc = await runCli(["unpack", "--image", layout, "--out", "/proc/bencher-no-such"], env);
  assert.is(proc.stderr, "bencher-run: --out /proc/bencher-no-such: cannot create the directory: /proc does not take new directories");
  assert.is(proc.exitCode, 1);
  // A socket's directory that cannot be made: the error names the path typed, then the directory.
  const procSocket = await runCli(["boot", "--kernel", "/etc/hostname", "--vsock", "/proc/bencher-no-such/v"], env);
  assert.is(procSocket.stderr, "bencher-run: --vsock /proc/bencher-no-such/v: cannot create its directory /proc/bencher-no-such: /proc does not take new directories");
  const deep = join(work, "no", "such", "v");
  const deepSocket = await runCli(["boot", "--kernel", "/etc/hostname", "--vsock", deep], env);
  assert.is(deepSocket.stderr, `bencher-run: --vsock ${deep}: ${join(work, "no")} does not exist`);
  assert.is(deepSocket.exitCode, 1);

  const badInput = await runCli(["mkrootfs", "--input", join(work, "nothing-here")], env);
  assert.is(badInput.stderr, `bencher-run: --input ${join(work, "nothing-here")}: no such file or directory`);

  const notUnpacked = await runCli(["mkrootfs", "--input", layout, "--out", join(work, "x.ext4")], env);
  assert.is(notUnpacked.exitCode, 1);
  assert.match(notUnpacked.stderr, /^bencher-run: mkrootfs: /);
  assert.is(notUnpacked.stderr.split("\n").length, 1);
  assert.not.ok(existsSync(join(work, "x.ext4")));

  const badNumber = await runCli(["mkrootfs", "--input", join(work, "unpacked"), "--disk-mib", "lots"], env);
  assert.is(badNumber.stderr, "bencher-run: --disk-mib lots: expected a whole number from 1 to 16777216");
  assert.is(badNumber.exitCode, 2, "a value the option cannot take: the command line is wrong");
  const hugeNumber = await runCli(["mkrootfs", "--input", join(work, "unpacked"), "--disk-mib", "99999999999999999999"], env);
  assert.is(hugeNumber.stderr, "bencher-run: --disk-mib 99999999999999999999: expected a whole number from 1 to 16777216");

  // Options that do not go together, in the command line's words (not the stage request's).
  const squashSize = await runCli(["mkrootfs", "--input", join(work, "unpacked"), "--fs", "squashfs", "--disk-mib", "100"], env);
  assert.is(squashSize.stderr, "bencher-run: --disk-mib: applies to ext4 only (squashfs is read-only and sized by its content)");
  const noImage = await runCli(["unpack", "--image", "", "--out", join(work, "never")], env);
  assert.is(noImage.stderr, "bencher-run: --image: empty (an OCI layout, archive or registry reference)");
  assert.not.ok(existsSync(join(work, "never")));
  const readOnlyNothing = await runCli(["boot", "--kernel", "/etc/hostname", "--disk-read-only"], env);
  assert.is(readOnlyNothing.stderr, "bencher-run: --disk-read-only: there is no --disk to attach read-only");
  for (const r of [squashSize, noImage, readOnlyNothing]) assert.is(r.exitCode, 2, r.stderr);

  // Out of the VMM's range: the flag and its unit, not the boot request's field (timeoutMs, in ms).
  for (const [flag, value, range] of [["--vcpus", "65", "1 to 64"], ["--memory-mib", "8", "16 to 262144"], ["--timeout", "86401", "1 to 86400"]]) {
    const outOfRange = await runCli(["boot", "--kernel", "/etc/hostname", flag, value], env);
    assert.is(outOfRange.exitCode, 2);
    assert.is(outOfRange.stderr, `bencher-run: ${flag} ${value}: expected a whole number from ${range}`);
  }
  assert.equal(readdirSync(join(cache, "runs")), []);
});

test("files and directories their owner may not read (an image's 0000 /etc/shadow) unpack and build, keeping their modes", async () => {
  const locked = join(work, "locked-layout");
  await buildImage({
    layers: [{ entries: [
      { type: "dir", path: "etc" },
      { type: "file", path: "etc/shadow", content: "root:*:1::::::\n", mode: 0o000 },
      { type: "dir", path: "vault", mode: 0o000 },
      { type: "file", path: "vault/key", content: "k\n", mode: 0o600, uid: 1000, gid: 1000 },
    ] }],
    config: { cmd: ["/bin/true"] },
  }, { format: "oci-dir", out: locked });
  const unpacked = join(work, "locked-unpacked");
  const u = await runCli(["unpack", "--image", locked, "--out", unpacked], env);
  assert.is(u.exitCode, 0, u.stderr);
  for (const fs of ["ext4", "squashfs"]) {
    const image = join(work, `locked.${fs}`);
    const m = await runCli(["mkrootfs", "--input", unpacked, "--fs", fs, "--out", image], env);
    assert.is(m.exitCode, 0, m.stderr);
    if (fs === "ext4") {
      assert.equal([statPath(image, "/etc/shadow").perm, statPath(image, "/vault").perm, statPath(image, "/vault/key").perm], [0o000, 0o000, 0o600]);
      assert.is(readImageFile(image, "/etc/shadow").toString(), "root:*:1::::::\n");
      assert.is(statPath(image, "/vault/key").uid, 1000);
    } else {
      const listing = execFileSync("unsquashfs", ["-lln", image], { encoding: "utf8" });
      assert.match(listing, /^---------- 0\/0 +\d+ [\d-]+ [\d:]+ squashfs-root\/etc\/shadow$/m, listing);
      assert.match(listing, /^d--------- 0\/0 .* squashfs-root\/vault$/m, listing);
    }
  }
});

test("a failed unpack into the user's own empty directory leaves it empty, and theirs", async () => {
  if (process.getuid?.() !== 0) return; // only a root runner hands the directory to the stages' uid
  const broken = join(work, "broken-layout");
  cpSync(layout, broken, { recursive: true });
  const blobs = join(broken, "blobs", "sha256");
  const blob = (digest: string) => join(blobs, digest.replace(/^sha256:/, ""));
  const index = JSON.parse(readFileSync(join(broken, "index.json"), "utf8"));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
  truncateSync(blob(manifest.layers[0].digest), 20); // the layer, cut short: the stage fails midway
  const own = join(work, "users-own");
  mkdirSync(own);
  chownSync(own, 1234, 4321);
  const r = await runCli(["unpack", "--image", broken, "--out", own], env);
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /^bencher-run: unpack: layer 1\/\d sha256:[0-9a-f]{64}: /, r.stderr);
  assert.equal(readdirSync(own), []);
  assert.equal([statSync(own).uid, statSync(own).gid], [1234, 4321], "the stages' uid had it only for the run");
});

test.run();
