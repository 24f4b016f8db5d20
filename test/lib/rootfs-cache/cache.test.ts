// The content-addressed root-image cache, kept by the coordinator: hits skip
// all work, keys change with everything that changes the image (the digest's
// origin included), LRU eviction, concurrent builds, no half-written image
// ever becomes an entry (killed build, full disk), and what a stage built is
// taken over whole: the runner's, read-only, with no other name.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  adoptIntoCache, cacheKey, listCache, lookupCached, ownCacheDir, pruneCache, rootfsCacheDir, STALE_TEMP_MS, unfinishedBuilds,
} from "../../../lib/rootfs-cache/cache.js";
import { buildToolIdentity } from "../../../stages/mkrootfs/tool-identity.js";
import { makeUnpackedImage, tempDir, type FixtureEntry } from "../../stages/mkrootfs/fixture.js";
import { fsck, listDir, readImageFile } from "../../stages/mkrootfs/inspect.js";
import { noise } from "../../stages/mkrootfs/rich-image.js";
import { buildCached, configDigest, VERIFIED } from "./build.js";

const work = tempDir();
const cacheDir = join(work, "cache");
process.env.BENCHER_RUN_CACHE = cacheDir;
const child = fileURLToPath(new URL("./fixtures/cache-run.js", import.meta.url));
test.after(() => rmSync(work, { recursive: true, force: true }));
test.before.each(() => rmSync(cacheDir, { recursive: true, force: true }));

const small = (digestByte: string) =>
  makeUnpackedImage({ entries: [{ path: "/hello", type: "file", content: `hello ${digestByte}` }], digest: `sha256:${digestByte.repeat(64)}` });

function bigTree(files: number, bytes: number): FixtureEntry[] {
  const entries: FixtureEntry[] = [];
  for (let i = 0; i < files; i++) entries.push({ path: `/data/${i % 10}/f${i}`, type: "file", content: noise(bytes, `f${i}`) });
  return entries;
}

test("a second run of the same image is a cache hit that skips scanning and mkfs", async () => {
  const input = small("a");
  const first = await buildCached(input, work);
  assert.is(first.cached, false);
  // Change the tree behind the cache's back: a hit must not look at it.
  writeFileSync(join(input, "rootfs", "added-later"), "x");
  const started = performance.now();
  const second = await buildCached(input, work);
  const ms = performance.now() - started;
  assert.is(second.cached, true);
  assert.is(second.image, first.image);
  assert.is(second.cacheKey, first.cacheKey);
  assert.equal(listDir(second.image, "/"), ["hello", "lost+found"]);
  assert.ok(ms < 100, `cache hit took ${ms.toFixed(1)} ms`);
  // The base image is read-only.
  assert.is(statSync(first.image).mode & 0o777, 0o444);
});

test("the coordinator can check the cache before unpacking: cacheKey + lookupCached", async () => {
  const input = small("b");
  const key = cacheKey({ digest: `sha256:${"b".repeat(64)}`, origin: VERIFIED, fs: "ext4" });
  assert.is(lookupCached(key), null);
  const built = await buildCached(input, work);
  assert.is(built.cacheKey, key);
  const hit = lookupCached(key)!;
  assert.is(hit.image, built.image);
  assert.is(hit.bytes, built.bytes);
  assert.is(hit.fs, "ext4");
});

test("the image's user and group names are recorded with it, and come back on a hit", async () => {
  const input = makeUnpackedImage({
    entries: [{ path: "/etc/passwd", type: "file", content: "root:x:0:0::/:/bin/sh\nbench:x:1000:1000::/:/bin/sh\n" }],
    digest: `sha256:${"e".repeat(64)}`,
  });
  const built = await buildCached(input, work);
  const accounts = { users: ["root", "bench"], groups: [] };
  assert.equal(built.accounts, accounts);
  assert.equal(lookupCached(built.cacheKey)!.accounts, accounts);
  assert.equal((await buildCached(input, work)).accounts, accounts);
  // An entry cached before names were recorded (or a damaged sidecar) has none: nothing is checked against it.
  writeFileSync(join(cacheDir, "rootfs", `${built.cacheKey}.json`), JSON.stringify({ digest: `sha256:${"e".repeat(64)}`, accounts: { users: "root" } }));
  assert.is(lookupCached(built.cacheKey)!.accounts, undefined);
  assert.is((await buildCached(input, work)).accounts, undefined);
});

test("the key changes with digest, its origin, file system type, disk size and build tool, and nothing else", () => {
  const base = { digest: `sha256:${"c".repeat(64)}`, origin: VERIFIED, fs: "ext4" as const };
  const key = cacheKey(base);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.is(cacheKey({ ...base }), key);
  // A digest only a directory claims never keys the entry a checked run boots, nor another claimant's.
  const claimed = cacheKey({ ...base, origin: { claimedBy: "registry.example/a:1" } });
  assert.is.not(claimed, key);
  assert.is.not(cacheKey({ ...base, origin: { claimedBy: "registry.example/b:1" } }), claimed);
  assert.is(cacheKey({ ...base, origin: { claimedBy: "registry.example/a:1" } }), claimed);
  // One config over other layers (the config digest alone would not tell): another key.
  const layers = (byte: string) => ({ verifiedLayers: [`sha256:${byte.repeat(64)}`] });
  assert.is.not(cacheKey({ ...base, origin: layers("1") }), cacheKey({ ...base, origin: layers("2") }));
  assert.is(cacheKey({ ...base, origin: layers("1") }), cacheKey({ ...base, origin: layers("1") }));
  assert.is.not(cacheKey({ ...base, digest: `sha256:${"d".repeat(64)}` }), key);
  assert.is.not(cacheKey({ ...base, fs: "squashfs" }), key);
  assert.is.not(cacheKey({ ...base, diskMiB: 512 }), key);
  assert.is.not(cacheKey({ ...base, diskMiB: 512 }), cacheKey({ ...base, diskMiB: 1024 }));
  // An upgraded mke2fs may build a different image from the same tree.
  assert.is(cacheKey({ ...base, tool: buildToolIdentity("ext4") }), key);
  assert.is.not(cacheKey({ ...base, tool: "/usr/sbin/mke2fs 1 2" }), key);
  assert.throws(() => cacheKey({ ...base, digest: "../../etc" }), /not an image digest/);
  assert.throws(() => lookupCached("../x"), /not a cache key/);
});

test("the build tool is identified by its installed file, without running it", () => {
  const ext4 = buildToolIdentity("ext4");
  assert.match(ext4, /mke2fs \d+ \d+$/, "mkfs.ext4 resolves to mke2fs, with its size and mtime");
  assert.match(buildToolIdentity("squashfs"), /mksquashfs \d+ \d+$/);
  assert.is(buildToolIdentity("ext4", [join(work, "no-tools-here")]), "missing");
});

test("an entry is the runner's, read-only and sparse; the stage's file leaves the work directory", async () => {
  const staging = mkdtempSync(join(work, "staging-"));
  const built = await buildCached(small("e"), work, { staging });
  const st = statSync(built.image);
  assert.equal([st.mode & 0o777, st.uid, st.nlink], [0o444, process.getuid!(), 1]);
  assert.ok(st.blocks * 512 < st.size / 10, "stays sparse");
  assert.ok(fsck(built.image).clean);
  assert.equal(readdirSync(staging), []);
});

test("LRU: pruning evicts the least recently used image; a lookup counts as a use", async () => {
  const keys: string[] = [];
  for (const c of ["1", "2", "3"]) keys.push((await buildCached(small(c), work, { diskMiB: 16 })).cacheKey);
  const now = Date.now() / 1000;
  keys.forEach((key, i) => utimesSync(lookupCached(key)!.image, now - 300 + i * 100, now - 300 + i * 100));
  lookupCached(keys[0]); // oldest becomes newest
  assert.equal(listCache().map((image) => image.key), [keys[0], keys[2], keys[1]]);
  assert.is(listCache()[0].digest, `sha256:${"1".repeat(64)}`);
  const total = listCache().reduce((sum, image) => sum + image.diskBytes, 0);
  const pruned = pruneCache({ maxBytes: total - 1 });
  assert.equal(pruned.removed.map((image) => image.key), [keys[1]]);
  assert.is(lookupCached(keys[1]), null);
  assert.ok(existsSync(lookupCached(keys[0])!.image));
  pruneCache({ maxBytes: 0 });
  assert.equal(listCache(), []);
  assert.equal(readdirSync(rootfsCacheDir()).filter((name) => !name.startsWith("tmp")), []);
});

test("two builds of one image at once: both succeed, one entry, a clean image, no leftovers", async () => {
  const input = makeUnpackedImage({ entries: bigTree(200, 64 * 1024) });
  const [a, b] = await Promise.all([
    buildCached(input, work),
    buildCached(input, work),
  ]);
  assert.is(a.image, b.image);
  assert.is(listCache().length, 1);
  assert.ok(fsck(a.image).clean);
  assert.equal(readdirSync(join(rootfsCacheDir(), "tmp")), []);
});

test("a build killed mid-way never becomes a cache entry; the next run builds a good image", async () => {
  const input = makeUnpackedImage({ entries: bigTree(300, 512 * 1024) });
  const staging = mkdtempSync(join(work, "killed-"));
  const proc = spawn(process.execPath, [child, input, cacheDir, staging], { detached: true, stdio: "ignore" });
  // Wait until mkfs has written into the stage's temp image, then kill the whole process group.
  const deadline = Date.now() + 20000;
  let partial: string | undefined;
  while (Date.now() < deadline && !partial) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    partial = readdirSync(staging).find((name) => (statSync(join(staging, name), { throwIfNoEntry: false })?.blocks ?? 0) > 2048);
  }
  process.kill(-proc.pid!, "SIGKILL");
  await new Promise((resolve) => proc.once("exit", resolve));
  assert.ok(partial, "the build never got going");
  assert.is(lookupCached(cacheKey({ digest: configDigest(input), origin: VERIFIED, fs: "ext4" })), null);
  assert.equal(listCache(), []);
  assert.equal(unfinishedBuilds().count, 0, "the cache never saw the unfinished image (the work directory holds it)");
  const again = await buildCached(input, work);
  assert.is(again.cached, false);
  assert.ok(fsck(again.image).clean);
});

test("prune clears leftovers in tmp/ once unchanged for STALE_TEMP_MS, never a fresh one", () => {
  const tmp = join(ownCacheDir(), "tmp");
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, `${"d".repeat(64)}.1.abc.partial`), Buffer.alloc(64 * 1024, 1));
  assert.equal([unfinishedBuilds().count, unfinishedBuilds().stale], [1, 0]);
  assert.is(pruneCache({ maxBytes: 0 }).freedBytes, 0, "an image may be on its way in right now");
  const old = (Date.now() - STALE_TEMP_MS - 1000) / 1000;
  for (const name of readdirSync(tmp)) utimesSync(join(tmp, name), old, old);
  assert.is(unfinishedBuilds().stale, 1);
  assert.ok(pruneCache({}).freedBytes > 0);
  assert.equal(readdirSync(tmp), []);
  assert.equal(unfinishedBuilds(), { count: 0, diskBytes: 0, stale: 0 });
});

/** Runs the child with its staging directory on a tmpfs of `size`, mounted in a user+mount namespace of our own (no host root needed). */
function buildOnTmpfs(input: string, size: string): { error?: string; result?: { image: string }; cached: string[]; temps: string[]; staging: string[] } {
  const staging = mkdtempSync(join(work, "tmpfs-"));
  mkdirSync(cacheDir, { recursive: true });
  const script = `mount -t tmpfs -o size=${size} tmpfs "$1" && exec "$2" "$3" "$4" "$5" "$1" 64`;
  const out = execFileSync("unshare", ["--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", staging, process.execPath, child, input, cacheDir], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out.trim().split("\n").pop()!);
}

test("a full disk fails the build with no cache entry and no temp file left", () => {
  const report = buildOnTmpfs(makeUnpackedImage({ entries: bigTree(40, 512 * 1024) }), "12m");
  assert.ok(report.error, "the build should fail");
  assert.not.match(report.error!, /\n/);
  assert.equal(report.cached, []);
  assert.equal(report.temps, []);
  assert.equal(report.staging, []);
});

test("an image built on another file system than the cache is copied in, sparse, and gone from where it was built", () => {
  const input = makeUnpackedImage({ entries: [{ path: "/hello", type: "file", content: "across\n" }] });
  const report = buildOnTmpfs(input, "96m");
  assert.is(report.error, undefined);
  assert.equal(report.cached.length, 1);
  assert.equal([report.temps, report.staging], [[], []]);
  const image = report.result!.image;
  assert.equal(readImageFile(image, "/hello").toString(), "across\n");
  const st = statSync(image);
  assert.ok(st.blocks * 512 < st.size / 4, "the copy keeps the image's holes");
});

test("a directory that claims a digest cannot put its tree under the image a checked run boots", async () => {
  const digest = `sha256:${"f".repeat(64)}`;
  const forged = makeUnpackedImage({ entries: [{ path: "/who", type: "file", content: "forged\n" }], digest });
  const genuine = makeUnpackedImage({ entries: [{ path: "/who", type: "file", content: "genuine\n" }], digest });
  const claimed = await buildCached(forged, work, { origin: { claimedBy: "registry.example/evil:latest" } });
  assert.is(lookupCached(cacheKey({ digest, origin: VERIFIED, fs: "ext4" })), null, "the forged tree is not the checked image's entry");
  const checked = await buildCached(genuine, work);
  assert.is(checked.cached, false);
  assert.equal(readImageFile(checked.image, "/who").toString(), "genuine\n");
  assert.equal(readImageFile(claimed.image, "/who").toString(), "forged\n");
  assert.is.not(checked.image, claimed.image);
});

test("adopting refuses a symlink or a file with another name, and leaves the cache as it was", () => {
  const dir = mkdtempSync(join(work, "adopt-"));
  const target = join(dir, "target");
  writeFileSync(target, "x");
  const link = join(dir, "symlink");
  symlinkSync(target, link);
  const about = { digest: `sha256:${"1".repeat(64)}`, origin: VERIFIED };
  assert.throws(() => adoptIntoCache(link, "1".repeat(64), "ext4", about), (err: Error) => err.message === `${link}: the built image is not a regular file (a symlink)`);
  const built = join(dir, "image.ext4");
  writeFileSync(built, "image");
  linkSync(built, join(dir, "kept-name"));
  assert.throws(() => adoptIntoCache(built, "1".repeat(64), "ext4", about), (err: Error) => err.message === `${built}: the built image has 2 names; a cache entry may have no other`);
  assert.equal(listCache(), []);
  assert.equal(unfinishedBuilds().count, 0);
  assert.ok(existsSync(target), "a symlink's target is never touched");
});

test("under root: an image the stage uid made is the runner's once cached, and a cache once given to that uid is emptied and taken back", async () => {
  if (process.getuid?.() !== 0) return; // stages are the caller then: nothing changes hands
  const dir = mkdtempSync(join(work, "owned-"));
  const built = join(dir, "image.ext4");
  writeFileSync(built, "image");
  chownSync(built, 65534, 65534);
  const adopted = adoptIntoCache(built, "2".repeat(64), "ext4", { digest: `sha256:${"2".repeat(64)}`, origin: VERIFIED });
  const st = statSync(adopted.image);
  assert.equal([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o444]);
  // How the stage used to be given the cache: the directory, tmp/ and an entry its own,
  // and a planted entry under a key a later build will compute, sound in every other way.
  const rootfs = rootfsCacheDir();
  mkdirSync(join(rootfs, "tmp"), { recursive: true });
  for (const path of [rootfs, join(rootfs, "tmp"), adopted.image]) chownSync(path, 65534, 65534);
  const input = small("p");
  const planted = join(rootfs, `${cacheKey({ digest: configDigest(input), origin: VERIFIED, fs: "ext4" })}.ext4`);
  writeFileSync(planted, "EVIL", { mode: 0o444 });
  chownSync(planted, 0, 0);
  const built2 = await buildCached(input, work);
  assert.is(built2.cached, false, "the planted entry is gone, not booted");
  assert.is(statSync(rootfs).uid, 0);
  assert.equal(readdirSync(rootfs).filter((name) => name.endsWith(".ext4")), [`${built2.cacheKey}.ext4`], "everything from the stage uid's time is gone");
  assert.ok(fsck(built2.image).clean);
});

test("a lookup boots only an entry as the cache leaves it: not writable, not a symlink, no other name, the runner's or root's", () => {
  const key = "3".repeat(64);
  const entry = join(ownCacheDir(), `${key}.ext4`);
  const elsewhere = join(work, "elsewhere.ext4");
  writeFileSync(elsewhere, "image", { mode: 0o444 });
  const unsound: [string, () => void][] = [
    ["writable", () => writeFileSync(entry, "image", { mode: 0o644 })],
    ["a symlink", () => symlinkSync(elsewhere, entry)],
    ["a second name", () => linkSync(elsewhere, entry)],
  ];
  if (process.getuid?.() === 0) unsound.push(["another user's", () => { writeFileSync(entry, "image", { mode: 0o444 }); chownSync(entry, 65534, 65534); }]);
  for (const [what, make] of unsound) {
    make();
    assert.is(lookupCached(key), null, what);
    rmSync(entry, { force: true });
  }
  writeFileSync(entry, "image", { mode: 0o444 });
  assert.ok(lookupCached(key), "a sound entry is a hit");
  rmSync(entry);
});

test("an unsound file already at the key is replaced by the build, never handed back to be booted", async () => {
  const input = small("u");
  const key = cacheKey({ digest: configDigest(input), origin: VERIFIED, fs: "ext4" });
  const planted = join(ownCacheDir(), `${key}.ext4`);
  writeFileSync(planted, "EVIL", { mode: 0o666 });
  const built = await buildCached(input, work);
  assert.is(built.cached, false);
  assert.is(built.image, planted);
  assert.ok(fsck(built.image).clean, "the build's image, not the planted file");
  assert.is(statSync(built.image).mode & 0o777, 0o444);
  assert.equal(readdirSync(join(rootfsCacheDir(), "tmp")), [], "no image or sidecar left on its way in");
});

test("two builds of one key racing in: the image and its recorded names are the winner's", () => {
  const dir = mkdtempSync(join(work, "race-"));
  const key = "4".repeat(64);
  const about = (users: string[]) => ({ digest: `sha256:${"4".repeat(64)}`, origin: VERIFIED, accounts: { users, groups: [] } });
  writeFileSync(join(dir, "winner"), "winner");
  writeFileSync(join(dir, "loser"), "loser");
  const first = adoptIntoCache(join(dir, "winner"), key, "ext4", about(["root"]));
  const second = adoptIntoCache(join(dir, "loser"), key, "ext4", about(["root", "bench"]));
  assert.is(second.image, first.image);
  assert.is(readFileSync(first.image, "utf8"), "winner");
  assert.equal(second.accounts, { users: ["root"], groups: [] });
  assert.equal(lookupCached(key)!.accounts, { users: ["root"], groups: [] });
  assert.equal(readdirSync(dir), []);
});

test.run();
