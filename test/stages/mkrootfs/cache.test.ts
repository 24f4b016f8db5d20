// The content-addressed cache: hits skip all work, keys change with
// everything that changes the image, LRU eviction, concurrent builds, and no
// half-written image ever becomes an entry (killed build, full disk).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheKey, listCache, lookupCached, pruneCache, rootfsCacheDir, STALE_TEMP_MS, unfinishedBuilds } from "../../../stages/mkrootfs/cache.js";
import { buildToolIdentity } from "../../../stages/mkrootfs/tool-identity.js";
import { mkrootfs } from "../../../stages/mkrootfs/mkrootfs.js";
import { makeUnpackedImage, tempDir, type FixtureEntry } from "./fixture.js";
import { fsck, listDir } from "./inspect.js";
import { noise } from "./rich-image.js";

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
  const first = await mkrootfs({ input, fs: "ext4", cache: true });
  assert.is(first.cached, false);
  // Change the tree behind the cache's back: a hit must not look at it.
  writeFileSync(join(input, "rootfs", "added-later"), "x");
  const started = performance.now();
  const second = await mkrootfs({ input, fs: "ext4", cache: true });
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
  const key = cacheKey({ digest: `sha256:${"b".repeat(64)}`, fs: "ext4" });
  assert.is(lookupCached(key), null);
  const built = await mkrootfs({ input, fs: "ext4", cache: true });
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
  const built = await mkrootfs({ input, fs: "ext4", cache: true });
  const accounts = { users: ["root", "bench"], groups: [] };
  assert.equal(built.accounts, accounts);
  assert.equal(lookupCached(built.cacheKey)!.accounts, accounts);
  assert.equal((await mkrootfs({ input, fs: "ext4", cache: true })).accounts, accounts);
  // An entry cached before names were recorded (or a damaged sidecar) has none: nothing is checked against it.
  writeFileSync(join(cacheDir, "rootfs", `${built.cacheKey}.json`), JSON.stringify({ digest: `sha256:${"e".repeat(64)}`, accounts: { users: "root" } }));
  assert.is(lookupCached(built.cacheKey)!.accounts, undefined);
  assert.is((await mkrootfs({ input, fs: "ext4", cache: true })).accounts, undefined);
});

test("the key changes with digest, file system type, disk size and build tool, and nothing else", () => {
  const base = { digest: `sha256:${"c".repeat(64)}`, fs: "ext4" as const };
  const key = cacheKey(base);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.is(cacheKey({ ...base }), key);
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

test("out gets a writable sparse copy; the cache keeps the read-only base", async () => {
  const input = small("e");
  const out = join(work, "copy.ext4");
  const result = await mkrootfs({ input, fs: "ext4", cache: true, out });
  assert.is(result.image, out);
  const copy = statSync(out);
  assert.is(copy.mode & 0o777, 0o644);
  assert.ok(copy.blocks * 512 < copy.size / 10, "copy stays sparse");
  assert.ok(fsck(out).clean);
  assert.is(statSync(lookupCached(result.cacheKey)!.image).mode & 0o777, 0o444);
  rmSync(out);
});

test("LRU: pruning evicts the least recently used image; a lookup counts as a use", async () => {
  const keys: string[] = [];
  for (const c of ["1", "2", "3"]) keys.push((await mkrootfs({ input: small(c), fs: "ext4", cache: true, diskMiB: 16 })).cacheKey);
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
    mkrootfs({ input, fs: "ext4", cache: true }),
    mkrootfs({ input, fs: "ext4", cache: true }),
  ]);
  assert.is(a.image, b.image);
  assert.is(listCache().length, 1);
  assert.ok(fsck(a.image).clean);
  assert.equal(readdirSync(join(rootfsCacheDir(), "tmp")), []);
});

test("a build killed mid-way never becomes a cache entry; the next run builds a good image", async () => {
  const input = makeUnpackedImage({ entries: bigTree(300, 512 * 1024) });
  const proc = spawn(process.execPath, [child, input, cacheDir], { detached: true, stdio: "ignore" });
  const tmp = join(rootfsCacheDir(), "tmp");
  // Wait until mkfs has written into the temp image, then kill the whole process group.
  const deadline = Date.now() + 20000;
  let partial: string | undefined;
  while (Date.now() < deadline && !partial) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const names = existsSync(tmp) ? readdirSync(tmp) : [];
    partial = names.find((name) => (statSync(join(tmp, name), { throwIfNoEntry: false })?.blocks ?? 0) > 2048);
  }
  process.kill(-proc.pid!, "SIGKILL");
  await new Promise((resolve) => proc.once("exit", resolve));
  assert.ok(partial, "the build never got going");
  const key = cacheKey({ digest: JSON.parse(execFileSync("cat", [join(input, "config.json")], { encoding: "utf8" })).digest, fs: "ext4" });
  assert.is(lookupCached(key), null);
  assert.equal(listCache(), []);
  // Killed builds' temp files are listed, and cleared by prune once unchanged for STALE_TEMP_MS.
  assert.equal(unfinishedBuilds().count, 1);
  assert.is(unfinishedBuilds().stale, 0);
  assert.is(pruneCache({ maxBytes: 0 }).freedBytes, 0, "a build that may still be running is kept");
  const old = (Date.now() - STALE_TEMP_MS - 1000) / 1000;
  for (const name of readdirSync(tmp)) utimesSync(join(tmp, name), old, old);
  assert.is(unfinishedBuilds().stale, 1);
  assert.ok(pruneCache({}).freedBytes > 0);
  assert.equal(readdirSync(tmp), []);
  assert.equal(unfinishedBuilds(), { count: 0, diskBytes: 0, stale: 0 });

  const again = await mkrootfs({ input, fs: "ext4", cache: true });
  assert.is(again.cached, false);
  assert.ok(fsck(again.image).clean);
});

test("a full disk fails the build with no cache entry and no temp file left", () => {
  const input = makeUnpackedImage({ entries: bigTree(40, 512 * 1024) });
  // A 12 MiB tmpfs as the cache, mounted in a user+mount namespace of our own (no host root needed).
  mkdirSync(cacheDir, { recursive: true });
  const script = `mount -t tmpfs -o size=12m tmpfs "$1" && exec "$2" "$3" "$4" "$1" 64`;
  const out = execFileSync("unshare", ["--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", cacheDir, process.execPath, child, input], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const report = JSON.parse(out.trim().split("\n").pop()!);
  assert.ok(report.error, "the build should fail");
  assert.not.match(report.error, /\n/);
  assert.equal(report.cached, []);
  assert.equal(report.temps, []);
});

test.run();
