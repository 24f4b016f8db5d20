// The cache command's human output: a header, then one aligned row per image.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cacheListing, pruneReport } from "../../../bin/cli/cache-listing.js";
import type { CachedImage } from "../../../lib/rootfs-cache/cache.js";

const image = (over: Partial<CachedImage>): CachedImage => ({
  key: "ab".repeat(32),
  image: "/c/rootfs/x.ext4",
  fs: "ext4",
  bytes: 1024 ** 3,
  diskBytes: 3 * 1024 ** 2,
  lastUsed: new Date("2026-12-06T17:51:25.868Z"),
  ...over,
});

test("an empty cache says so", () => {
  assert.equal(cacheListing("/c", []), ["cache: /c", "no root images cached"]);
});

test("one row per image, aligned, named by image ID or else by cache key; its platform and source, or - when not recorded", () => {
  const lines = cacheListing("/c", [
    image({ digest: `sha256:${"7".repeat(64)}`, platform: "linux/amd64", origin: { verifiedLayers: [`sha256:${"8".repeat(64)}`] } }),
    image({ digest: `sha256:${"7".repeat(64)}`, platform: "linux/amd64", origin: { claimedBy: "registry.example/b:1\u001b[2J" } }),
    image({ key: "cd".repeat(32), fs: "squashfs", bytes: 5 * 1024 ** 2, diskBytes: 5 * 1024 ** 2, lastUsed: new Date("2026-12-05T09:00:00Z") }),
  ]);
  assert.equal(lines, [
    "cache: /c",
    "3 root images, 11.0 MiB on disk (bencher-run cache prune --max-mib N keeps N MiB)",
    "IMAGE ID             PLATFORM     FS        SIZE     ON DISK  LAST USED (UTC)   SOURCE",
    "sha256:777777777777  linux/amd64  ext4      1.0 GiB  3.0 MiB  2026-12-06 17:51  image",
    "sha256:777777777777  linux/amd64  ext4      1.0 GiB  3.0 MiB  2026-12-06 17:51  claimed: registry.example/b:1\\x1b[2J",
    "key cdcdcdcdcdcd     -            squashfs  5.0 MiB  5.0 MiB  2026-12-05 09:00  -",
  ]);
});

test("unfinished builds are counted before the images, with when prune removes them", () => {
  assert.equal(cacheListing("/c", [], { count: 2, diskBytes: 525 * 1024 ** 2, stale: 1 }), [
    "cache: /c",
    "2 unfinished builds, 525.0 MiB on disk (running, or killed: prune removes one unchanged for 10 minutes, as 1 is)",
    "no root images cached",
  ]);
  assert.equal(cacheListing("/c", [], { count: 1, diskBytes: 0, stale: 0 })[1], "1 unfinished build, 0 B on disk (running, or killed: prune removes one unchanged for 10 minutes)");
  assert.equal(cacheListing("/c", [], { count: 0, diskBytes: 0, stale: 0 }), ["cache: /c", "no root images cached"]);
});

test("the prune report", () => {
  assert.equal(pruneReport({ removed: [image({ digest: `sha256:${"1".repeat(64)}` })], freedBytes: 3 * 1024 ** 2, keptBytes: 0 }, 2), [
    "removed 1 root image: sha256:111111111111",
    "freed 3.0 MiB, kept 0 B",
    "stale run directories removed: 2",
  ]);
  assert.equal(pruneReport({ removed: [], freedBytes: 0, keptBytes: 1024 }, 0)[0], "removed 0 root images");
});

test.run();
