// A registry image's root image through the pipeline's coordinator, against a
// real registry on loopback: the reference is pinned to the digest its tag
// names (unpack's first event) before any layer is read, so a second run
// finds the image in the cache and stops unpack without needing a layer (the
// layers are deleted from the registry to prove it), a run by digest needs
// no registry at all, and a tag moved to other content builds that content
// instead of booting the old.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, type BuildResult } from "../../../lib/oci/build-image.js";
import type { ImageDescription } from "../../../lib/oci/description.js";
import { RunWorkdir } from "../../../lib/workdir/run-workdir.js";
import { prepareRootImage, type RootImage } from "../../../bin/pipeline/root-image.js";
import type { StageName } from "../../../lib/sandbox/stage-policy.js";
import { listCache } from "../../../lib/rootfs-cache/cache.js";
import { pushWithSkopeo, startRegistry, type Registry } from "../../../lib/reference/registry-server.js";

const work = mkdtempSync(join(tmpdir(), "pipeline-registry-root-"));
const savedCache = process.env.BENCHER_RUN_CACHE;
const cache = join(work, "cache");
const image = (which: string): ImageDescription => ({
  base: "scratch",
  layers: [{ entries: [{ type: "file", path: "/which", content: `${which}\n` }] }],
  config: { cmd: ["/which"], env: [`WHICH=${which}`] },
});
let registry: Registry;
let first: BuildResult;
let second: BuildResult;
let tagRef: string;

/** prepareRootImage in a fresh run directory; the stages' log lines are returned with it. */
async function prepare(ref: string): Promise<RootImage & { logs: string[] }> {
  const workdir = RunWorkdir.create({ root: join(work, "runs") });
  const logs: string[] = [];
  try {
    const root = await prepareRootImage(ref, "ext4", undefined, workdir, { onLog: (stage: StageName, _level, message) => void logs.push(`${stage}: ${message}`) });
    return { ...root, logs };
  } finally {
    workdir.dispose();
  }
}

/** Removes a blob's bytes from the registry's storage: a later fetch of it fails. */
function deleteBlob(digest: string): void {
  const hex = digest.slice("sha256:".length);
  rmSync(join(registry.storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data"));
}

test.before(async () => {
  process.env.BENCHER_RUN_CACHE = cache;
  first = await buildImage(image("first"), { format: "oci-dir", out: join(work, "first") });
  second = await buildImage(image("second"), { format: "oci-dir", out: join(work, "second") });
  registry = await startRegistry();
  tagRef = `${registry.host}/bench/app:v1`;
  await pushWithSkopeo(join(work, "first"), tagRef);
});

test.after(async () => {
  await registry?.stop();
  if (savedCache === undefined) delete process.env.BENCHER_RUN_CACHE;
  else process.env.BENCHER_RUN_CACHE = savedCache;
  rmSync(work, { recursive: true, force: true });
});

test("by tag: built once; the next run pins the tag and takes the cached image, needing no layer", async () => {
  const built = await prepare(tagRef);
  assert.is(built.cached, false);
  assert.is(built.runConfig.digest, first.images[0].config.digest);
  assert.is(built.reference, `${registry.host}/bench/app@${first.digest}`, "what the tag named, for the run's result");
  const entry = listCache().find((e) => e.image === built.path);
  assert.equal(entry?.origin, { claimedBy: `${registry.host}/bench/app@${first.digest}` }, "keyed by the pinned reference");
  assert.is(entry?.digest, first.images[0].config.digest, "cache ls shows the image ID");

  for (const layer of first.images[0].layers) deleteBlob(layer.digest);
  const again = await prepare(tagRef);
  assert.is(again.cached, true);
  assert.is(again.path, built.path);
  assert.equal(again.runConfig, built.runConfig, "how to run it, from the cache");
  assert.is(again.reference, built.reference);
  assert.equal(again.logs.filter((line) => /unpacked/.test(line)), []);

  // The layers really are gone: with an empty cache the same run fails.
  process.env.BENCHER_RUN_CACHE = join(work, "empty-cache");
  try {
    await prepare(tagRef).then(() => assert.unreachable("unpacked without its layers"), (err: Error) => assert.match(err.message, /layer 1\/1 sha256:.*HTTP 404: BLOB_UNKNOWN/, err.message));
  } finally {
    process.env.BENCHER_RUN_CACHE = cache;
  }
});

test("the tag moved to other content: that is built and run, not the image cached for the old digest", async () => {
  await pushWithSkopeo(join(work, "second"), tagRef);
  const moved = await prepare(tagRef);
  assert.is(moved.cached, false);
  assert.is(moved.runConfig.digest, second.images[0].config.digest);
  assert.equal(moved.runConfig.env, ["WHICH=second"]);
  const again = await prepare(tagRef);
  assert.equal([again.cached, again.path], [true, moved.path]);
});

test("by digest: found in the cache with no registry to ask", async () => {
  await registry.stop();
  const pinned = await prepare(`${registry.host}/bench/app:v1@${first.digest}`);
  assert.is(pinned.cached, true);
  assert.is(pinned.runConfig.digest, first.images[0].config.digest);
  assert.equal(pinned.logs, [], "no stage ran");
  assert.ok(statSync(pinned.path).size > 0);
});

test.run();
