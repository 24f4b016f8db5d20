// The image builder, checked with tools that are not ours: tar-stream parses
// its tar headers, skopeo reads every output form, umoci unpacks the result.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, lstatSync, readlinkSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import tar from "tar-stream";
import { Readable } from "node:stream";
import { buildImage, type ImageFormat } from "../../../lib/oci/build-image.js";
import type { ImageDescription } from "../../../lib/oci/description.js";
import { encodeTarHeader, paddingFor, END_OF_ARCHIVE } from "../../../lib/oci/tar-header.js";
import { layerTar } from "../../../lib/oci/layer-tar.js";
import { unpack } from "../../../stages/unpack/unpack.js";

async function rejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (err) {
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

const work = mkdtempSync(join(tmpdir(), "oci-builder-test-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

const description: ImageDescription = {
  layers: [
    {
      compression: "gzip",
      entries: [
        { type: "dir", path: "/app", mode: 0o750, uid: 1000, gid: 1000 },
        { type: "file", path: "/app/hello.txt", content: "hello\n", mode: 0o640, uid: 1000, gid: 100 },
        { type: "file", path: "/app/gone.txt", content: "bye\n" },
        { type: "symlink", path: "/app/link", target: "hello.txt" },
        { type: "hardlink", path: "/app/hard", target: "/app/hello.txt" },
      ],
    },
    { compression: "none", entries: [{ type: "whiteout", path: "/app/gone.txt" }] },
  ],
  config: { env: ["A=1"], workingDir: "/app", entrypoint: ["/bin/sh"], cmd: ["-c", "echo hi"], user: "1000:1000" },
};

async function members(bytes: AsyncIterable<Buffer>) {
  const extract = tar.extract();
  const seen: Array<{ name: string; type: string; size: number; pax?: Record<string, string>; body: string }> = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header as tar.Header & { pax?: Record<string, string> };
      seen.push({ name: h.name, type: h.type ?? "", size: h.size ?? 0, pax: h.pax, body: Buffer.concat(chunks).toString() });
    }
  })();
  Readable.from(bytes).pipe(extract);
  await done;
  return seen;
}

test("tar headers parse with tar-stream: long names, xattrs, links, whiteouts", async () => {
  const long = "d/" + "x".repeat(150);
  const seen = await members(layerTar([
    { type: "file", path: long, content: "abc", xattrs: { "user.note": "yes" } },
    { type: "symlink", path: "s", target: "t".repeat(120) },
    { type: "hardlink", path: "h", target: long },
    { type: "whiteout", path: "/etc/old" },
    { type: "opaque", path: "/var/cache" },
    { type: "chardev", path: "dev/null", major: 1, minor: 3, mode: 0o666 },
  ]));
  assert.equal(seen.map((s) => s.name), [long, "s", "h", "etc/.wh.old", "var/cache/.wh..wh..opq", "dev/null"]);
  assert.is(seen[0].body, "abc");
  assert.is(seen[0].pax?.["SCHILY.xattr.user.note"], "yes");
  assert.is(seen[1].type, "symlink");
  assert.is(seen[2].type, "link");
  assert.is(seen[5].type, "character-device");
});

test("a big uid and size go into PAX records", async () => {
  const header = encodeTarHeader({ name: "f", type: "file", uid: 1 << 30, size: 0 });
  const seen = await members((async function* () { yield header; yield END_OF_ARCHIVE; })());
  assert.is(seen[0].pax?.uid, String(1 << 30));
  assert.is(paddingFor(512).length, 0);
  assert.is(paddingFor(1).length, 511);
});

const formats: ImageFormat[] = ["oci-dir", "oci-archive", "docker-archive", "docker-dir"];
const transport: Record<ImageFormat, string> = { "oci-dir": "oci", "oci-archive": "oci-archive", "docker-archive": "docker-archive", "docker-dir": "" };

for (const format of formats.filter((f) => f !== "docker-dir")) {
  test(`skopeo reads the ${format} form`, async () => {
    const out = join(work, `skopeo-${format}`);
    const built = await buildImage(description, { format, out });
    const { stdout } = await execa("skopeo", ["inspect", "--config", `${transport[format]}:${out}`]);
    const config = JSON.parse(stdout);
    assert.equal(config.config.Env, ["A=1"]);
    assert.equal(config.config.Entrypoint, ["/bin/sh"]);
    assert.is(config.config.User, "1000:1000");
    assert.is(config.rootfs.diff_ids.length, 3);
    assert.is(built.images[0].layers.length, 3);
  });
}

test("the docker-save directory holds manifest.json, the config and layer.tar files", async () => {
  const out = join(work, "docker-dir");
  const built = await buildImage(description, { format: "docker-dir", out });
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  assert.is(manifest[0].Config, `${built.images[0].config.digest.slice(7)}.json`);
  for (const layer of manifest[0].Layers) assert.ok(existsSync(join(out, layer)), layer);
  assert.not.ok(existsSync(join(out, "index.json")));

  const withIndex = join(work, "docker-dir-oci");
  await buildImage(description, { format: "docker-dir", out: withIndex, dockerOciIndex: true });
  const index = JSON.parse(readFileSync(join(withIndex, "index.json"), "utf8"));
  assert.is(index.manifests.length, 1);
  const manifest2 = JSON.parse(readFileSync(join(withIndex, "manifest.json"), "utf8"));
  assert.ok(manifest2[0].Layers.every((l: string) => l.startsWith("blobs/sha256/")));
});

test("a layer the image repeats is stored once and listed each time, in every form", async () => {
  const same = { entries: [{ type: "file" as const, path: "/a", content: "same" }] };
  const repeated: ImageDescription = { base: "scratch", layers: [same, { entries: [{ type: "file", path: "/b", content: "other" }] }, same] };
  for (const format of formats) {
    const out = join(work, `repeated-${format}`);
    await buildImage(repeated, { format, out });
    const unpacked = await unpack({ image: out, out: join(work, `repeated-${format}-unpacked`) });
    assert.equal(readdirSync(unpacked.rootfs).sort(), ["a", "b"], format);
    if (format === "docker-dir") {
      const layers = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"))[0].Layers;
      assert.is(layers.length, 3);
      assert.is(layers[0], layers[2]);
    } else {
      const { stdout } = await execa("skopeo", ["inspect", "--config", `${transport[format]}:${out}`]);
      assert.is(JSON.parse(stdout).rootfs.diff_ids.length, 3, format);
    }
  }
});

test("umoci unpacks the OCI layout to the described tree", async () => {
  const out = join(work, "umoci-layout");
  await buildImage(description, { format: "oci-dir", out, tag: "t:v1" });
  const bundle = join(work, "umoci-bundle");
  await execa("umoci", ["unpack", "--rootless", "--image", `${out}:v1`, bundle]);
  const root = join(bundle, "rootfs");
  assert.is(readFileSync(join(root, "app/hello.txt"), "utf8"), "hello\n");
  assert.is(lstatSync(join(root, "app/hello.txt")).mode & 0o7777, 0o640);
  assert.is(readlinkSync(join(root, "app/link")), "hello.txt");
  assert.is(lstatSync(join(root, "app/hard")).ino, lstatSync(join(root, "app/hello.txt")).ino);
  assert.not.ok(existsSync(join(root, "app/gone.txt")));
  assert.ok(readdirSync(join(root, "bin")).includes("sh"));
  assert.ok(lstatSync(join(root, "bin/busybox")).size > 100_000);
});

test("several descriptions make a multi-platform index", async () => {
  const out = join(work, "multi");
  const built = await buildImage(
    [
      { ...description, platform: { os: "linux", architecture: "amd64" } },
      { base: "scratch", layers: [{ entries: [{ type: "file", path: "arch", content: "arm64" }] }], platform: { os: "linux", architecture: "arm64", variant: "v8" } },
    ],
    { format: "oci-dir", out },
  );
  assert.ok(built.index);
  const { stdout } = await execa("skopeo", ["inspect", "--raw", `oci:${out}`]);
  const index = JSON.parse(stdout);
  assert.equal(index.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture), ["amd64", "arm64"]);
});

test("bad descriptions fail with a clear message and leave nothing", async () => {
  const out = join(work, "bad");
  await rejects(
    () => buildImage({ layers: [{ entries: [{ type: "file", path: "/", content: "x" }] }] }, { format: "oci-dir", out }),
    /names the root/,
  );
  assert.not.ok(existsSync(out));
  await rejects(() => buildImage([description, description], { format: "docker-archive", out }), /one platform/);
});

test.run();
