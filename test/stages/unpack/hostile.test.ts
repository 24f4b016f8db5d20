// Hostile layers: crafted tarballs that try to create, change or read
// anything outside the target root. Each test checks the host afterwards.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../../lib/oci/build-image.js";
import { unpack } from "../../../stages/unpack/unpack.js";
import { readMetadata, rejects, snapshot, tarBytes, type CraftedMember } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "unpack-hostile-"));
// The victim: a directory beside the output that no layer may touch.
const outside = join(work, "outside");
mkdirSync(outside);
writeFileSync(join(outside, "secret"), "secret\n", { mode: 0o600 });
mkdirSync(join(outside, "dir"), { mode: 0o700 });
const outsideBefore = snapshot(outside);
// A path in the host's /tmp a layer might aim at through an absolute name.
const hostTarget = join(tmpdir(), `bencher-pwned-${process.pid}`);
// What a ../-climbing symlink would reach on a broken unpacker: the host's "/".
const rootName = `bencher-pwned-${process.pid}`;

test.after(() => {
  rmSync(work, { recursive: true, force: true });
  // Only ever there if the unpacker is broken; do not leave it behind even then.
  rmSync(hostTarget, { force: true });
  rmSync(join("/", rootName), { force: true });
  rmSync(join("/", `${rootName}-dir`), { recursive: true, force: true });
});

let counter = 0;

/** Builds an image from crafted layers and unpacks it. */
async function unpackLayers(layers: Array<CraftedMember[] | Buffer>) {
  const n = ++counter;
  const tarFiles = layers.map((layer, i) => {
    const file = join(work, `layer-${n}-${i}.tar`);
    writeFileSync(file, Buffer.isBuffer(layer) ? layer : tarBytes(layer));
    return file;
  });
  const image = join(work, `image-${n}`);
  await buildImage({ base: "scratch", layers: tarFiles.map((tarFile) => ({ tarFile, compression: "none" as const })) }, { format: "oci-dir", out: image });
  const out = join(work, `out-${n}`);
  return { out, run: () => unpack({ image, out }) };
}

function hostUntouched() {
  assert.equal(snapshot(outside), outsideBefore, "the directory outside the root changed");
  assert.is(lstatSync(join(outside, "secret")).nlink, 1, "someone hard-linked the secret");
  assert.not.ok(existsSync(hostTarget), `${hostTarget} was created on the host`);
  assert.not.ok(existsSync(join("/", rootName)), `/${rootName} was created on the host`);
  const stray = readdirSync(work).filter((name) => !/^(outside|layer-|image-|out-)/.test(name));
  assert.equal(stray, [], "files appeared beside the output");
}

test("member names climbing out with ../ are refused", async () => {
  const { out, run } = await unpackLayers([[{ name: "../outside/pwned", type: "file", data: "x" }]]);
  // Said once: the layer, the member, why.
  await rejects(run, /^layer 1\/1 sha256:[0-9a-f]{64}: member "\.\.\/outside\/pwned": climbs out of the image root$/);
  assert.not.ok(existsSync(out));
  const deep = await unpackLayers([[{ name: "a/../../../outside/secret", type: "file", data: "x" }]]);
  await rejects(deep.run, /climbs out/);
  hostUntouched();
});

test("absolute member names land inside the root", async () => {
  const { run } = await unpackLayers([[{ name: hostTarget, type: "file", data: "x" }]]);
  const result = await run();
  assert.is(readFileSync(join(result.rootfs, hostTarget), "utf8"), "x");
  hostUntouched();
});

test("a symlink planted earlier in the same layer is followed inside the root", async () => {
  const { run } = await unpackLayers([[
    { name: "escape", type: "symlink", linkname: outside },
    { name: "escape/pwned", type: "file", data: "x" },
    { name: "up", type: "symlink", linkname: "../../../../.." },
    { name: `up/${rootName}`, type: "file", data: "y" },
  ]]);
  const result = await run();
  assert.is(readFileSync(join(result.rootfs, outside, "pwned"), "utf8"), "x");
  assert.is(readFileSync(join(result.rootfs, rootName), "utf8"), "y");
  hostUntouched();
});

test("a symlinked parent from an earlier layer cannot lead out either", async () => {
  const { run } = await unpackLayers([
    [
      { name: "etc", type: "symlink", linkname: outside },
      { name: "a", type: "symlink", linkname: `b/${rootName}-dir` },
      { name: "b", type: "symlink", linkname: "/" },
    ],
    [
      { name: "etc/secret", type: "file", data: "overwritten?" },
      { name: "a/d/e", type: "file", data: "chained" },
      { name: "etc/dir/", type: "dir", mode: 0o777 },
    ],
  ]);
  const result = await run();
  assert.is(readFileSync(join(result.rootfs, outside, "secret"), "utf8"), "overwritten?");
  assert.is(readFileSync(join(result.rootfs, `${rootName}-dir/d/e`), "utf8"), "chained");
  hostUntouched();
});

test("symlink loops fail cleanly", async () => {
  const { out, run } = await unpackLayers([[
    { name: "loop", type: "symlink", linkname: "loop" },
    { name: "loop/x", type: "file", data: "x" },
  ]]);
  await rejects(run, /too many levels of symbolic links/);
  assert.not.ok(existsSync(out));
  hostUntouched();
});

test("a file or directory over a symlink replaces the symlink, not its target", async () => {
  const { run } = await unpackLayers([
    [
      { name: "f", type: "symlink", linkname: join(outside, "secret") },
      { name: "d", type: "symlink", linkname: join(outside, "dir") },
    ],
    [
      { name: "f", type: "file", data: "pwned", mode: 0o666 },
      { name: "d/", type: "dir", mode: 0o777 },
    ],
  ]);
  const result = await run();
  assert.is(readFileSync(join(result.rootfs, "f"), "utf8"), "pwned");
  assert.ok(lstatSync(join(result.rootfs, "d")).isDirectory());
  hostUntouched();
});

test("hard links cannot reach outside the root", async () => {
  const climb = await unpackLayers([[{ name: "h", type: "hardlink", linkname: "../outside/secret" }]]);
  await rejects(climb.run, /hard link target "\.\.\/outside\/secret" climbs out/);
  const absolute = await unpackLayers([[{ name: "h", type: "hardlink", linkname: join(outside, "secret") }]]);
  await rejects(absolute.run, /hard link target .* does not exist/);
  const viaSymlink = await unpackLayers([
    [{ name: "d", type: "symlink", linkname: outside }],
    [{ name: "h", type: "hardlink", linkname: "d/secret" }],
  ]);
  await rejects(viaSymlink.run, /hard link target "d\/secret" does not exist/);
  assert.not.ok(existsSync(viaSymlink.out));
  hostUntouched();
});

test("a hard link to a symlink links the symlink itself", async () => {
  const { run } = await unpackLayers([[
    { name: "s", type: "symlink", linkname: join(outside, "secret") },
    { name: "h", type: "hardlink", linkname: "s" },
  ]]);
  const result = await run();
  assert.ok(lstatSync(join(result.rootfs, "h")).isSymbolicLink());
  hostUntouched();
});

test("whiteouts cannot name .. or reach through symlinks", async () => {
  const dotdot = await unpackLayers([
    [{ name: "sub/", type: "dir" }, { name: "sub/file", type: "file", data: "x" }],
    [{ name: "sub/.wh..", type: "file" }],
  ]);
  await rejects(dotdot.run, /whiteout names "\."/);
  const dotdot2 = await unpackLayers([
    [{ name: "sub/", type: "dir" }],
    [{ name: "sub/.wh...", type: "file" }],
  ]);
  await rejects(dotdot2.run, /whiteout names "\.\."/);
  const climbing = await unpackLayers([[{ name: "../.wh.outside", type: "file" }]]);
  await rejects(climbing.run, /climbs out/);
  const through = await unpackLayers([
    [{ name: "s", type: "symlink", linkname: outside }, { name: "t", type: "symlink", linkname: "../../.." }],
    [
      { name: "s/.wh.secret", type: "file" },
      { name: "s/.wh..wh..opq", type: "file" },
      { name: "t/.wh.outside", type: "file" },
    ],
  ]);
  const result = await through.run();
  assert.ok(lstatSync(join(result.rootfs, "s")).isSymbolicLink());
  hostUntouched();
});

test("device nodes and FIFOs are never created on the host", async () => {
  const { run } = await unpackLayers([[
    { name: "dev/", type: "dir" },
    { name: "dev/sda", type: "blockdev", devmajor: 8, devminor: 0, mode: 0o660 },
    { name: "dev/mem", type: "chardev", devmajor: 1, devminor: 1, mode: 0o640 },
    { name: "pipe", type: "fifo", mode: 0o644, mtime: 1700000000 },
  ]]);
  const result = await run();
  assert.equal(readdirSync(join(result.rootfs, "dev")), []);
  assert.not.ok(existsSync(join(result.rootfs, "pipe")));
  const kinds = readMetadata(result.metadata).map((r) => `${r.path} ${r.kind} ${JSON.stringify(r.rdev ?? null)}`);
  assert.equal(kinds, ["/dev/mem chardev [1,1]", "/dev/sda blockdev [8,0]", "/pipe fifo null"]);
  // The tree cannot hold their mtimes, so the records do, for mkrootfs.
  assert.is(readMetadata(result.metadata).find((r) => r.path === "/pipe")!.mtime, 1700000000);
  hostUntouched();
});

test("a device node or FIFO is no directory: entries under it are refused, an explicit directory replaces it", async () => {
  const sameLayer = await unpackLayers([[
    { name: "x", type: "chardev", devmajor: 1, devminor: 3 },
    { name: "x/y", type: "file", data: "y" },
  ]]);
  await rejects(sameLayer.run, /^layer 1\/1 sha256:[0-9a-f]{64}: member "x\/y": \/x is a chardev, not a directory \(needed by "x"\)$/);
  assert.not.ok(existsSync(sameLayer.out));
  const laterLayer = await unpackLayers([
    [{ name: "d/", type: "dir" }, { name: "d/pipe", type: "fifo" }],
    [{ name: "d/pipe/deep/f", type: "file", data: "f" }],
  ]);
  await rejects(laterLayer.run, /^layer 2\/2 sha256:[0-9a-f]{64}: member "d\/pipe\/deep\/f": \/d\/pipe is a fifo, not a directory \(needed by "d\/pipe\/deep"\)$/);
  // A later layer may replace the node with a directory, as OCI allows: then the node's record goes.
  const replaced = await unpackLayers([
    [{ name: "x", type: "blockdev", devmajor: 8, devminor: 0, uid: 5 }],
    [{ name: "x/", type: "dir" }, { name: "x/y", type: "file", data: "y" }],
  ]);
  const result = await replaced.run();
  assert.is(readFileSync(join(result.rootfs, "x/y"), "utf8"), "y");
  assert.equal(readMetadata(result.metadata), []);
  hostUntouched();
});

test("owners, device numbers, xattrs and names mkrootfs would refuse are refused here, naming layer and member", async () => {
  const refused: Array<[CraftedMember, RegExp]> = [
    [{ name: "big-uid", type: "file", uid: 99999999999 }, /uid must be an integer from 0 to 4294967294, not 99999999999$/],
    [{ name: "half-gid", type: "file", pax: { gid: "1.5" } }, /gid must be an integer from 0 to 4294967294, not 1\.5$/],
    [{ name: "major", type: "chardev", devmajor: 4096, devminor: 0 }, /rdev must be \[major 0\.\.4095, minor 0\.\.1048575\], not \[4096,0\]$/],
    [{ name: "minor", type: "blockdev", devmajor: 8, devminor: 0x100000 }, /rdev must be .*, not \[8,1048576\]$/],
    [{ name: "odd-xattr", type: "file", xattrs: { "foo.bar": "x" } }, /xattr "foo\.bar" must start with user\., trusted\., security\. or system\.$/],
    [{ name: "big-xattr", type: "file", xattrs: { "user.big": "x".repeat(4001) } }, /xattr "user\.big" is 4001 bytes, more than ext4 holds \(4000\)$/],
    [{ name: "line\nbreak", type: "file", uid: 5 }, /path "\/line\\nbreak" contains a control character$/],
  ];
  for (const [member, why] of refused) {
    const { out, run } = await unpackLayers([[member]]);
    const error = await rejects(run, new RegExp(`^layer 1/1 sha256:[0-9a-f]{64}: member ${JSON.stringify(member.name).replace(/[\\.]/g, "\\$&")}: `));
    assert.match(error.message, why);
    assert.not.ok(existsSync(out), member.name);
  }
  // A hard link carries its target's owner: a name mkrootfs would refuse is refused for it too.
  const linked = await unpackLayers([[{ name: "owned", type: "file", uid: 5 }, { name: "tab\there", type: "hardlink", linkname: "owned" }]]);
  await rejects(linked.run, /member "tab\\there": path "\/tab\\there" contains a control character$/);
  hostUntouched();
});

test("oversized headers, truncated layers and absurd sizes fail cleanly", async () => {
  const bigPax = Buffer.concat([tarBytes([{ name: "f", type: "file", pax: { comment: "x".repeat(2 << 20) } }])]);
  const oversized = await unpackLayers([bigPax]);
  await rejects(oversized.run, /extended tar header of \d+ bytes exceeds/);
  assert.not.ok(existsSync(oversized.out));

  const full = tarBytes([{ name: "big", type: "file", data: Buffer.alloc(100_000, 1) }], false);
  const truncated = await unpackLayers([full.subarray(0, 50_000)]);
  await rejects(truncated.run, /truncated in the middle of "big"/);
  assert.not.ok(existsSync(truncated.out));

  const absurd = await unpackLayers([tarBytes([{ name: "huge", type: "file", pax: { size: String(2 ** 50) } }], false)]);
  await rejects(absurd.run, /claims an absurd size/);

  const longName = await unpackLayers([[{ name: "x".repeat(5000), type: "file", data: "x" }]]);
  await rejects(longName.run, /ENAMETOOLONG|name too long/i);
  assert.not.ok(existsSync(longName.out));
  hostUntouched();
});

test("tar format errors name the layer, as decompression errors do", async () => {
  const corrupt = tarBytes([{ name: "f", type: "file", data: "x" }]);
  corrupt[10] ^= 0x01; // in the header's name: its checksum no longer matches
  const badChecksum = await unpackLayers([[{ name: "ok", type: "file", data: "x" }], corrupt]);
  await rejects(badChecksum.run, /^layer 2\/2 sha256:[0-9a-f]{64}: bad tar header checksum \(member 1\)$/);
  assert.not.ok(existsSync(badChecksum.out));
  const badPax = await unpackLayers([[{ name: "f", type: "file", pax: { uid: "many" } }]]);
  await rejects(badPax.run, /^layer 1\/1 sha256:[0-9a-f]{64}: bad PAX uid "many"$/);
  hostUntouched();
});

/**
 * Rewrites an OCI layout's one manifest and config as `edit` says, storing
 * them as new blobs and pointing the index at the new manifest, the way
 * someone with write access to a layout or registry could.
 */
function forge(layout: string, edit: (manifest: any, config: any) => void): void {
  const blob = (digest: string) => join(layout, "blobs", "sha256", digest.slice("sha256:".length));
  const store = (bytes: Buffer) => {
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    writeFileSync(blob(digest), bytes);
    return { digest, size: bytes.length };
  };
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8"));
  const configBefore = JSON.stringify(config);
  edit(manifest, config);
  if (JSON.stringify(config) !== configBefore) Object.assign(manifest.config, store(Buffer.from(JSON.stringify(config))));
  Object.assign(index.manifests[0], store(Buffer.from(JSON.stringify(manifest))));
  writeFileSync(join(layout, "index.json"), JSON.stringify(index));
}

async function twoImages(n: number) {
  const build = async (name: string, data: string) => {
    const image = join(work, `image-${n}-${name}`);
    const built = await buildImage({ base: "scratch", layers: [{ entries: [{ path: "/bench/run.sh", type: "file", mode: 0o755, content: data }] }] }, { format: "oci-dir", out: image });
    return { image, layer: built.images[0].layers[0] };
  };
  return { genuine: await build("genuine", "echo genuine\n"), other: await build("other", "echo POISONED\n") };
}

test("a layer whose content is not the config's diff_id is refused: an image ID cannot vouch for other files", async () => {
  const { genuine, other } = await twoImages(++counter);
  // The genuine config (so the genuine image ID), but the other image's layer blob.
  copyFileSync(join(other.image, "blobs", "sha256", other.layer.digest.slice(7)), join(genuine.image, "blobs", "sha256", other.layer.digest.slice(7)));
  forge(genuine.image, (manifest) => Object.assign(manifest.layers[0], { digest: other.layer.digest, size: other.layer.size }));
  const out = join(work, `out-${counter}`);
  await rejects(() => unpack({ image: genuine.image, out }), new RegExp(`^layer 1/1 ${other.layer.digest}: its content does not match the config's diff_id: expected ${genuine.layer.diffId}, got ${other.layer.diffId}$`));
  assert.not.ok(existsSync(out), "nothing is left of the refused image");
  hostUntouched();
});

test("a config without a diff_id for each layer is refused", async () => {
  const { genuine } = await twoImages(++counter);
  forge(genuine.image, (_manifest, config) => (config.rootfs.diff_ids = []));
  const out = join(work, `out-${counter}`);
  await rejects(() => unpack({ image: genuine.image, out }), /^manifest has 1 layers but its config lists 0 diff_ids \(rootfs\.diff_ids: one per layer\)$/);
  assert.not.ok(existsSync(out));
});

test.run();
