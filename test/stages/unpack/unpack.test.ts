// Unpacking one described image from every input form gives one result:
// the same tree, the same metadata.jsonl, the same config; and it follows
// the layer semantics of the OCI image spec.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { buildImage, type BuildOptions } from "../../../lib/oci/build-image.js";
import type { ImageDescription } from "../../../lib/oci/description.js";
import { unpack } from "../../../stages/unpack/unpack.js";
import { parseUnpackRequest } from "../../../stages/unpack/request.js";
import { imageView, readMetadata, rejects, snapshot } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "unpack-test-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

const description: ImageDescription = {
  layers: [
    {
      compression: "gzip",
      entries: [
        { type: "dir", path: "/app", mode: 0o755 },
        { type: "file", path: "/app/suid", content: "#!/bin/sh\n", mode: 0o4755, mtime: 1_600_000_000 },
        { type: "file", path: "/app/sgid", content: "g", mode: 0o2755, gid: 50 },
        { type: "file", path: "/app/owned", content: "mine", mode: 0o640, uid: 1000, gid: 1000, xattrs: { "user.note": "kept", "security.capability": { base64: "AAAAAgAgAAAAAAAAAAAAAAAAAAA=" } } },
        { type: "symlink", path: "/app/link", target: "suid" },
        { type: "hardlink", path: "/app/hard", target: "/app/owned" },
        { type: "fifo", path: "/app/fifo", mode: 0o600 },
        { type: "file", path: "/app/old.txt", content: "old" },
        { type: "chardev", path: "/dev/null", major: 1, minor: 3, mode: 0o666 },
        { type: "dir", path: "/ro", mode: 0o555 },
        { type: "file", path: "/ro/a", content: "a" },
        { type: "file", path: "/cache/a", content: "lower", uid: 5 },
        { type: "blockdev", path: "/cache/disk", major: 8, minor: 0 },
        { type: "dir", path: "/cache/sub" },
        { type: "file", path: "/cache/sub/deep", content: "lower" },
        { type: "dir", path: "/usr/lib" },
        { type: "symlink", path: "/lib", target: "/usr/lib" },
      ],
    },
    {
      compression: "zstd",
      entries: [
        { type: "whiteout", path: "/app/old.txt" },
        { type: "whiteout", path: "/app/fifo" },
        { type: "opaque", path: "/cache" },
        { type: "file", path: "/cache/c", content: "upper" },
        { type: "file", path: "/ro/b", content: "into a read-only directory" },
        { type: "file", path: "/app/owned", content: "replaced", mode: 0o644 },
        { type: "dir", path: "/app", mode: 0o710, mtime: 1_650_000_000 },
      ],
    },
    {
      compression: "none",
      entries: [
        { type: "file", path: "/lib/libx.so", content: "through the /lib symlink" },
        { type: "file", path: "/etc/motd", content: "hi", uid: 7, gid: 7 },
      ],
    },
  ],
  config: { env: ["PATH=/bin", "X=1"], workingDir: "/app", entrypoint: ["/bin/sh", "-c"], cmd: ["echo hi"], user: "1000:1000" },
};

const forms: Array<{ name: string; options: Omit<BuildOptions, "out"> }> = [
  { name: "oci-dir", options: { format: "oci-dir" } },
  { name: "oci-archive", options: { format: "oci-archive" } },
  { name: "docker-archive", options: { format: "docker-archive" } },
  { name: "docker-dir", options: { format: "docker-dir" } },
  { name: "docker-archive-oci-index", options: { format: "docker-archive", dockerOciIndex: true } },
  { name: "docker-dir-oci-index", options: { format: "docker-dir", dockerOciIndex: true } },
];

const results = new Map<string, { tree: Record<string, string>; metadata: string; config: string }>();

for (const form of forms) {
  test(`unpacks the ${form.name} form`, async () => {
    const image = join(work, `image-${form.name}`);
    await buildImage(description, { ...form.options, out: image });
    const out = join(work, `out-${form.name}`);
    const result = await unpack({ image, out });
    assert.is(result.layers, 4);
    assert.ok(result.files > 5);
    results.set(form.name, {
      tree: snapshot(result.rootfs),
      metadata: readFileSync(result.metadata, "utf8"),
      config: readFileSync(result.config, "utf8").replace(/\s*"manifestDigest": "[^"]*",/, ""),
    });
  });
}

test("every form gives the same tree, metadata and config", () => {
  const [first, ...rest] = [...results.entries()];
  assert.is(results.size, forms.length);
  for (const [name, r] of rest) {
    assert.equal(r.tree, first[1].tree, `${name} tree`);
    assert.is(r.metadata, first[1].metadata, `${name} metadata`);
    assert.is(r.config, first[1].config, `${name} config`);
  }
});

test("layers are applied like a container runtime applies them", () => {
  const root = join(work, "out-oci-dir", "rootfs");
  const tree = imageView(join(work, "out-oci-dir"));
  assert.is(tree["app/suid"].split(" ").slice(0, 3).join(" "), "file 4755 1600000000");
  assert.ok(tree["app/sgid"].startsWith("file 2755"));
  assert.is(tree["tmp"].split(" ")[1], "1777");
  assert.is(tree["app"], "dir 710 1650000000", "a directory entry over a directory changes its mode and mtime");
  assert.is(tree["ro"].split(" ")[1], "555");
  assert.is(readFileSync(join(root, "ro/b"), "utf8"), "into a read-only directory");
  assert.is(tree["app/link"], "symlink -> suid");
  assert.is(readFileSync(join(root, "app/owned"), "utf8"), "replaced");
  assert.is(readFileSync(join(root, "app/hard"), "utf8"), "mine", "the hard link keeps the old inode");
  assert.not.ok(existsSync(join(root, "app/old.txt")), "whiteout");
  assert.equal(readdirSync(join(root, "cache")).sort(), ["c"], "opaque directory");
  assert.is(readFileSync(join(root, "usr/lib/libx.so"), "utf8"), "through the /lib symlink");
  assert.is(tree["lib"], "symlink -> /usr/lib");
  assert.not.ok(existsSync(join(root, "dev/null")), "device nodes are never created");
  assert.not.ok(existsSync(join(root, "app/fifo")));
  assert.ok(lstatSync(join(root, "bin/busybox")).size > 100_000);
});

test("whiteouts and opaque markers hide lower layers only: what the same layer wrote below them stays", async () => {
  const image = join(work, "image-same-layer-whiteout");
  await buildImage({
    base: "scratch",
    layers: [
      { entries: [
        { type: "dir", path: "/d" }, { type: "file", path: "/d/old", content: "lower" }, { type: "file", path: "/d/sub/low", content: "lower" },
        { type: "dir", path: "/o" }, { type: "file", path: "/o/old", content: "lower" }, { type: "file", path: "/o/sub/low", content: "lower" },
      ] },
      { entries: [
        { type: "file", path: "/d/new", content: "upper" }, { type: "file", path: "/d/sub/x", content: "upper" }, { type: "whiteout", path: "/d" },
        { type: "file", path: "/o/sub/x", content: "upper" }, { type: "opaque", path: "/o" },
      ] },
    ],
  }, { format: "oci-dir", out: image });
  const result = await unpack({ image, out: join(work, "out-same-layer-whiteout") });
  const tree = snapshot(result.rootfs);
  assert.equal(Object.keys(tree).filter((path) => tree[path].startsWith("file")), ["d/new", "d/sub/x", "o/sub/x"]);
});

test("metadata.jsonl holds owners, xattrs and device nodes, minus deleted paths", () => {
  const records = readMetadata(join(work, "out-oci-dir", "metadata.jsonl"));
  const byPath = new Map(records.map((r) => [r.path, r]));
  assert.equal([...byPath.keys()].sort(), ["/app/hard", "/app/sgid", "/app/suid", "/dev/null", "/etc/motd", "/tmp"]);
  assert.equal(byPath.get("/app/sgid"), { path: "/app/sgid", uid: 0, gid: 50, mode: 0o2755 });
  // Kept out of the host tree (setuid, world-writable), so their modes are here.
  assert.equal(byPath.get("/app/suid"), { path: "/app/suid", uid: 0, gid: 0, mode: 0o4755 });
  assert.equal(byPath.get("/tmp"), { path: "/tmp", uid: 0, gid: 0, mode: 0o1777 });
  const onHost = (p: string) => statSync(join(work, "out-oci-dir", "rootfs", p)).mode & 0o7777;
  assert.equal([onHost("app/suid"), onHost("app/sgid"), onHost("tmp")], [0o755, 0o755, 0o1755]);
  assert.equal(byPath.get("/dev/null"), { path: "/dev/null", uid: 0, gid: 0, mode: 0o666, kind: "chardev", rdev: [1, 3], mtime: 1700000000 });
  const hard = byPath.get("/app/hard")!;
  assert.is(hard.uid, 1000);
  assert.equal(hard.xattrs, { "user.note": Buffer.from("kept").toString("base64"), "security.capability": "AAAAAgAgAAAAAAAAAAAAAAAAAAA=" });
  assert.equal(byPath.get("/etc/motd"), { path: "/etc/motd", uid: 7, gid: 7, mode: 0o644 });
});

test("config.json carries the run configuration and the image digest", async () => {
  const config = JSON.parse(readFileSync(join(work, "out-oci-dir", "config.json"), "utf8"));
  const { stdout } = await execa("skopeo", ["inspect", `oci:${join(work, "image-oci-dir")}`]);
  const inspected = JSON.parse(stdout);
  assert.is(config.manifestDigest, inspected.Digest);
  assert.match(config.digest, /^sha256:[a-f0-9]{64}$/);
  assert.equal(config.env, ["PATH=/bin", "X=1"]);
  assert.is(config.workingDir, "/app");
  assert.equal(config.entrypoint, ["/bin/sh", "-c"]);
  assert.equal(config.cmd, ["echo hi"]);
  assert.is(config.user, "1000:1000");
  assert.is(config.platform, "linux/amd64");
});

test("the tree matches umoci's for an image umoci can read", async () => {
  const gzipOnly: ImageDescription = {
    ...description,
    layers: description.layers!.map((l, i) => ({
      compression: "gzip" as const,
      // umoci dates parents a layer does not list "now": list them here.
      entries: [...(i === 0 ? [{ type: "dir" as const, path: "/cache" }, { type: "dir" as const, path: "/usr" }] : []), ...l.entries!].filter((e) => e.type !== "chardev" && e.type !== "blockdev" && e.type !== "fifo" && !(e.type === "whiteout" && e.path === "/app/fifo")),
    })),
  };
  const image = join(work, "umoci-image");
  await buildImage(gzipOnly, { format: "oci-dir", out: image, tag: "x:v1" });
  const ours = await unpack({ image, out: join(work, "umoci-ours") });
  const bundle = join(work, "umoci-bundle");
  await execa("umoci", ["unpack", "--rootless", "--image", `${image}:v1`, bundle]);
  const theirs = snapshot(join(bundle, "rootfs"));
  const mine = imageView(join(work, "umoci-ours"));
  // umoci leaves the root directory's mtime alone too; compare everything below it.
  assert.equal(mine, theirs);
});

test("--platform picks from a multi-platform index; a missing platform is named", async () => {
  const image = join(work, "multi");
  await buildImage(
    [
      { base: "scratch", layers: [{ entries: [{ type: "file", path: "arch", content: "amd64" }] }] },
      { base: "scratch", layers: [{ entries: [{ type: "file", path: "arch", content: "arm64" }] }], platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    ],
    { format: "oci-archive", out: image },
  );
  const a = await unpack({ image, out: join(work, "multi-amd64") });
  assert.is(readFileSync(join(a.rootfs, "arch"), "utf8"), "amd64");
  const b = await unpack({ image, out: join(work, "multi-arm64"), platform: "linux/arm64" });
  assert.is(readFileSync(join(b.rootfs, "arch"), "utf8"), "arm64");
  assert.is(JSON.parse(readFileSync(b.config, "utf8")).platform, "linux/arm64");
  await rejects(() => unpack({ image, out: join(work, "multi-s390x"), platform: "linux/s390x" }), /no image for linux\/s390x \(it offers: linux\/amd64, linux\/arm64\/v8\)/);
  assert.not.ok(existsSync(join(work, "multi-s390x")));
});

test("DIR:REF picks one of several images in an OCI layout", async () => {
  const layout = join(work, "two-tags");
  await buildImage({ base: "scratch", layers: [{ entries: [{ type: "file", path: "which", content: "one" }] }] }, { format: "oci-dir", out: layout, tag: "x:one" });
  const other = join(work, "two-tags-other");
  await buildImage({ base: "scratch", layers: [{ entries: [{ type: "file", path: "which", content: "two" }] }] }, { format: "oci-dir", out: other, tag: "x:two" });
  // skopeo adds the second image to the same layout under its own name.
  await execa("skopeo", ["copy", "-q", `oci:${other}:two`, `oci:${layout}:two`]);
  await rejects(() => unpack({ image: layout, out: join(work, "two-none") }), /holds several images \(one, two\); name one as .*:REF/);
  const two = await unpack({ image: `${layout}:two`, out: join(work, "two-two") });
  assert.is(readFileSync(join(two.rootfs, "which"), "utf8"), "two");
  const one = await unpack({ image: `oci:${layout}:one`, out: join(work, "two-one") });
  assert.is(readFileSync(join(one.rootfs, "which"), "utf8"), "one");
  await rejects(() => unpack({ image: `${layout}:three`, out: join(work, "two-three") }), /no image named "three" \(it has: one, two\)/);
});

function layoutManifest(image: string) {
  const index = JSON.parse(readFileSync(join(image, "index.json"), "utf8"));
  const digest: string = index.manifests[0].digest;
  const manifest = JSON.parse(readFileSync(join(image, "blobs/sha256", digest.slice(7)), "utf8"));
  return { index, manifest };
}

test("a corrupted layer fails naming the blob, and leaves nothing", async () => {
  const image = join(work, "corrupt");
  await buildImage(description, { format: "oci-dir", out: image });
  const { manifest } = layoutManifest(image);
  const layer = manifest.layers[1];
  const path = join(image, "blobs/sha256", layer.digest.slice(7));
  const bytes = readFileSync(path);
  bytes[bytes.length - 20] ^= 0xff; // inside the gzip stream's data or trailer
  writeFileSync(path, bytes);
  const out = join(work, "corrupt-out");
  await rejects(() => unpack({ image, out }), new RegExp(`layer 2/4 ${layer.digest}`));
  assert.not.ok(existsSync(out));
});

test("a blob longer or shorter than its descriptor fails", async () => {
  const image = join(work, "sizes");
  await buildImage(description, { format: "oci-dir", out: image });
  const { index, manifest } = layoutManifest(image);
  manifest.layers[2].size -= 1;
  const bytes = Buffer.from(JSON.stringify(manifest));
  const { createHash } = await import("node:crypto");
  const digest = "sha256:" + createHash("sha256").update(bytes).digest("hex");
  writeFileSync(join(image, "blobs/sha256", digest.slice(7)), bytes);
  index.manifests[0] = { ...index.manifests[0], digest, size: bytes.length };
  writeFileSync(join(image, "index.json"), JSON.stringify(index));
  const out = join(work, "sizes-out");
  await rejects(() => unpack({ image, out }), new RegExp(`layer 3/4 ${manifest.layers[2].digest}: blob is larger than`));
  assert.not.ok(existsSync(out));
});

test("a missing blob and a corrupted config are named", async () => {
  const image = join(work, "missing");
  await buildImage(description, { format: "oci-dir", out: image });
  const { manifest } = layoutManifest(image);
  rmSync(join(image, "blobs/sha256", manifest.layers[3].digest.slice(7)));
  await rejects(() => unpack({ image, out: join(work, "missing-out") }), /layer 4\/4 .* is missing/);
  assert.not.ok(existsSync(join(work, "missing-out")));
  writeFileSync(join(image, "blobs/sha256", manifest.config.digest.slice(7)), "{}");
  await rejects(() => unpack({ image, out: join(work, "missing-out") }), /config sha256:[a-f0-9]+: size is 2 bytes/);
});

test("a docker-save legacy layer is checked against its diff_id", async () => {
  const image = join(work, "docker-corrupt");
  await buildImage(description, { format: "docker-dir", out: image });
  const [entry] = JSON.parse(readFileSync(join(image, "manifest.json"), "utf8"));
  const layerFile = join(image, entry.Layers[3]);
  const bytes = readFileSync(layerFile);
  bytes[600] ^= 0x01; // file data, so the tar itself stays readable
  writeFileSync(layerFile, bytes);
  await rejects(() => unpack({ image, out: join(work, "docker-corrupt-out") }), /layer 4\/4 .*layer\.tar: digest mismatch/);
  assert.not.ok(existsSync(join(work, "docker-corrupt-out")));
});

test("an abort stops the unpack and removes what it wrote", async () => {
  const controller = new AbortController();
  const out = join(work, "aborted");
  await rejects(
    () => unpack({ image: join(work, "image-oci-dir"), out }, {
      signal: controller.signal,
      progress: (fraction) => {
        if (fraction !== null && fraction > 0) controller.abort(new Error("stop requested"));
      },
    }),
    /stop requested/,
  );
  assert.not.ok(existsSync(out));
});

test("an existing non-empty output, a missing image and bad requests are refused", async () => {
  const image = join(work, "image-oci-dir");
  const busy = join(work, "busy");
  mkdirSync(busy);
  writeFileSync(join(busy, "keep"), "x");
  await rejects(() => unpack({ image, out: busy }), /exists and is not empty/);
  assert.equal(readdirSync(busy), ["keep"]);
  await rejects(() => unpack({ image: join(work, "nope"), out: join(work, "o") }), /no such file/);
  await rejects(() => unpack({ image: work, out: join(work, "o") }), /neither an OCI layout/);
  assert.throws(() => parseUnpackRequest({ image: "x" }), /"out" is required/);
  assert.throws(() => parseUnpackRequest({ image: "x", out: "y", extra: 1 }), /unknown field "extra"/);
  assert.throws(() => parseUnpackRequest({ image: "x", out: "y", platform: "linux" }), /not os\/arch/);
  assert.equal(parseUnpackRequest({ image: "x", out: "y", platform: "linux/arm64/v8" }), { image: "x", out: "y", platform: "linux/arm64/v8" });
});

test("a disk that fills partway through a file: the error names the layer and the member", async () => {
  const image = join(work, "full-disk.oci");
  const entries = [{ type: "file" as const, path: "/small", content: "s" }, { type: "file" as const, path: "/data/big", content: "x".repeat(1 << 20) }];
  await buildImage({ base: "scratch", layers: [{ compression: "gzip", entries }] }, { format: "oci-dir", out: image });
  // A 256 KiB tmpfs in a mount namespace of its own: it goes away with the process.
  const disk = mkdtempSync(join(work, "disk-"));
  const script = `const { unpack } = await import(${JSON.stringify(new URL("../../../stages/unpack/unpack.js", import.meta.url).href)});
    await unpack({ image: ${JSON.stringify(image)}, out: ${JSON.stringify(join(disk, "out"))} }).then(() => console.log("unpacked"), (err) => console.log(err.message));`;
  const r = await execa("unshare", ["--user", "--map-root-user", "--mount", "sh", "-c", 'mount -t tmpfs -o size=256k tmpfs "$1" && exec "$2" --input-type=module -e "$3"', "sh", disk, process.execPath, script], { reject: false });
  assert.is(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /^layer 1\/1 sha256:[0-9a-f]{64}: member "data\/big": ENOSPC: no space left on device, write$/);
  assert.equal(readdirSync(disk), [], "nothing written beside the tmpfs");
});

test.run();
