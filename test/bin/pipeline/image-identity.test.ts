// A local image's identity, read by the coordinator without unpacking it:
// the config digest and the layer digests that key its root image, and a
// check that every layer blob is exactly those bytes (hashed, never parsed).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { peekLocalImage } from "../../../bin/pipeline/image-identity.js";
import { buildImage } from "../../../lib/oci/build-image.js";
import { formatLocalImage } from "../../../stages/unpack/local-image.js";
import { describeError } from "../../../lib/ipc/errors.js";

const work = mkdtempSync(join(tmpdir(), "image-identity-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

async function layout(name: string, content: string) {
  const out = join(work, name);
  const built = await buildImage({ base: "scratch", layers: [{ entries: [{ type: "file", path: "/who", content }] }] }, { format: "oci-dir", out });
  return { out, image: built.images[0]! };
}

test("the identity names the config digest and each layer blob's digest; genuine layers pass the check", async () => {
  const { out, image } = await layout("genuine", "genuine\n");
  const identity = (await peekLocalImage(formatLocalImage({ prefix: "", path: out })))!;
  assert.is(identity.digest, image.config.digest);
  assert.equal(identity.layerDigests, image.layers.map((layer) => layer.digest));
  await identity.verifyLayers();
});

test("a layer blob that is not the bytes its digest names is found by the check, naming the layer", async () => {
  const { out, image } = await layout("tampered", "genuine\n");
  const identity = (await peekLocalImage(formatLocalImage({ prefix: "", path: out })))!;
  const blob = join(out, "blobs", ...image.layers[0]!.digest.split(":"));
  writeFileSync(blob, "EVIL, and not gzip either");
  try {
    await identity.verifyLayers();
    assert.unreachable("the tampered layer passed");
  } catch (err) {
    assert.match(describeError(err), /layer 1\/1 .*(digest mismatch|size is|larger than|truncated)/);
  }
});

test.run();
