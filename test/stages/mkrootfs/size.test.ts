// Sizing: the default leaves room to write; the smallest disk we accept is
// one mkfs can really fill, and not much bigger than what the content takes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mkrootfs } from "../../../stages/mkrootfs/mkrootfs.js";
import { openUnpackedImage } from "../../../stages/mkrootfs/input.js";
import { readMetadata } from "../../../stages/mkrootfs/metadata.js";
import { planRootfs } from "../../../stages/mkrootfs/plan.js";
import { chooseExt4Geometry } from "../../../stages/mkrootfs/size.js";
import { imageOut, makeUnpackedImage, tempDir, type FixtureEntry } from "./fixture.js";
import { fsck, statPath } from "./inspect.js";
import { noise } from "./rich-image.js";

const work = tempDir();
test.after(() => rmSync(work, { recursive: true, force: true }));
const MIB = 1024 * 1024;

function superblock(image: string): Record<string, number> {
  const out = execFileSync("dumpe2fs", ["-h", image], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(out)![1]);
  return { blocks: field("Block count"), free: field("Free blocks"), inodes: field("Inode count"), freeInodes: field("Free inodes") };
}

function neededMiB(input: string): number {
  const image = openUnpackedImage(input);
  const plan = planRootfs(image.rootfs, readMetadata(image.metadataFile));
  return chooseExt4Geometry(plan.usage, plan.changes).neededMiB;
}

test("default size: content plus at least 1 GiB and 16384 inodes free, and the file stays sparse", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/data", type: "file", content: noise(30 * MIB, "d") }] });
  const result = await mkrootfs({ input, fs: "ext4", out: imageOut() });
  const sb = superblock(result.image);
  assert.ok(sb.free * 4096 >= 1024 * MIB, `only ${(sb.free * 4096) / MIB} MiB free`);
  assert.ok(sb.freeInodes >= 16384);
  assert.is(result.bytes, sb.blocks * 4096);
  assert.ok(statSync(result.image).blocks * 512 < 40 * MIB, "unused space is not allocated");
});

test("diskMiB sets the size exactly", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/a", type: "file", content: "a" }] });
  const result = await mkrootfs({ input, fs: "ext4", out: imageOut(), diskMiB: 300 });
  assert.is(result.bytes, 300 * MIB);
  assert.is(superblock(result.image).blocks * 4096, 300 * MIB);
});

const shapes: Record<string, () => FixtureEntry[]> = {
  "many tiny files": () => Array.from({ length: 6000 }, (_, i) => ({ path: `/d${i % 40}/file-${i}`, type: "file" as const, content: `${i}` })),
  "a few large files": () => Array.from({ length: 3 }, (_, i) => ({ path: `/big${i}`, type: "file" as const, content: noise(16 * MIB, `big${i}`) })),
  "many directories": () => Array.from({ length: 2500 }, (_, i) => ({ path: `/tree/${i % 50}/${i}/f`, type: "file" as const, content: "x" })),
  "long symlinks": () => Array.from({ length: 3000 }, (_, i) => ({ path: `/links/l${i}`, type: "symlink" as const, target: `/a/very/long/target/path/that/does/not/fit/in/the/inode/${i}` })),
};

for (const [name, entries] of Object.entries(shapes)) {
  test(`smallest accepted disk really fits (${name}), and one MiB less is refused`, async () => {
    const input = makeUnpackedImage({ entries: entries() });
    const needed = neededMiB(input);
    const out = join(work, "fit.ext4");
    const result = await mkrootfs({ input, fs: "ext4", out, diskMiB: needed });
    assert.ok(fsck(result.image).clean);
    const sb = superblock(out);
    const usedMiB = ((sb.blocks - sb.free) * 4096) / MIB;
    // The estimate is on the safe side, but not wastefully so.
    assert.ok(needed <= usedMiB * 1.25 + 8, `needed ${needed} MiB for ${usedMiB.toFixed(1)} MiB used`);
    rmSync(out);
    try {
      await mkrootfs({ input, fs: "ext4", out, diskMiB: needed - 1 });
      assert.unreachable("one MiB less should be refused");
    } catch (err) {
      assert.match((err as Error).message, /too small/);
    }
  });
}

test("a sparse file costs the disk only its data: a 1 TiB hole does not ask for a 1 TiB disk", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/small", type: "file", content: "x" }] });
  writeFileSync(join(input, "rootfs", "hole"), "");
  truncateSync(join(input, "rootfs", "hole"), 2 ** 40);
  const result = await mkrootfs({ input, fs: "ext4", out: imageOut() });
  assert.ok(result.bytes < 2 * 1024 * MIB, `a ${result.bytes}-byte disk`);
  assert.ok(fsck(result.image).clean);
  assert.is(statPath(result.image, "/hole").size, 2 ** 40, "the file keeps its size, as holes");
});

test.run();
