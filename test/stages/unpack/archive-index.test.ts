// The archive indexer (used for OCI archives and docker-save tars) finds each
// member's data where the tar reader would: PAX sizes and names included.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../../lib/oci/build-image.js";
import { paxRecord } from "../../../lib/oci/tar-header.js";
import { indexArchive } from "../../../stages/unpack/archive-index.js";
import { unpack } from "../../../stages/unpack/unpack.js";
import { snapshot, tarBytes, type CraftedMember } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "unpack-archive-index-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** A PAX global header (type g) carrying `records`, like git archive's pax_global_header. */
function globalHeader(records: Record<string, string>): Buffer {
  const data = Buffer.concat(Object.entries(records).map(([key, value]) => paxRecord(key, value)));
  const bytes = tarBytes([{ name: "pax_global_header", type: "file", data }], false);
  bytes.write("g", 156, "latin1");
  sealHeader(bytes.subarray(0, 512));
  return bytes;
}

/** Writes `size` into a tar header's size field. */
function setSizeField(header: Buffer, size: number): void {
  header.write(size.toString(8).padStart(11, "0") + "\0", 124, "latin1");
  sealHeader(header);
}

/** A tar header's checksum, after it was changed. */
function sealHeader(header: Buffer): void {
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
}

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((p) => statSync(join(dir, p)).isFile()).sort();
}

test("a member whose size is only in PAX (ustar size 0, as Go and Python write 8 GiB ones) is found whole", async () => {
  const layout = join(work, "layout");
  await buildImage({ base: "scratch", layers: [{ entries: [{ type: "file", path: "/f", content: "content\n" }] }] }, { format: "oci-dir", out: layout });
  // The layout as an archive whose every file says its size in a PAX record only, after a global header as git archive writes.
  const members: CraftedMember[] = files(layout).map((path) => {
    const data = readFileSync(join(layout, path));
    return { name: path, type: "file", data, size: 0, pax: { size: String(data.length) } };
  });
  const archive = join(work, "pax-sizes.tar");
  writeFileSync(archive, Buffer.concat([globalHeader({ comment: "0123456789abcdef" }), tarBytes(members)]));
  const index = indexArchive(archive);
  for (const path of files(layout)) assert.is(index.get(path)?.size, statSync(join(layout, path)).size, path);
  const fromArchive = await unpack({ image: archive, out: join(work, "from-archive") });
  const fromLayout = await unpack({ image: layout, out: join(work, "from-layout") });
  assert.equal(snapshot(fromArchive.rootfs), snapshot(fromLayout.rootfs));
});

test("global PAX records (type g) apply to every member after them; a member's own PAX record wins", () => {
  const archive = join(work, "global.tar");
  writeFileSync(archive, Buffer.concat([
    globalHeader({ size: "3" }),
    tarBytes([{ name: "a", type: "file", data: "aaa", size: 0 }, { name: "b", type: "file", data: "bbbbb", size: 0, pax: { size: "5" } }]),
  ]));
  const index = indexArchive(archive);
  assert.equal([...index.keys()], ["a", "b"]);
  assert.is(index.get("a")!.size, 3);
  assert.is(index.get("b")!.size, 5);
});

test("the size field of a directory, link, device or FIFO is ignored, as the tar reader (and Go's) ignore it", () => {
  const archive = join(work, "header-only.tar");
  const headerOnly: CraftedMember[] = [
    { name: "dir/", type: "dir" },
    { name: "link", type: "symlink", linkname: "a" },
    { name: "hard", type: "hardlink", linkname: "a" },
    { name: "fifo", type: "fifo" },
  ];
  const bytes = tarBytes([...headerOnly, { name: "a", type: "file", data: "hello" }]);
  // Each header says it has data (our writer would not), with no data after it.
  for (let i = 0; i < headerOnly.length; i++) setSizeField(bytes.subarray(i * 512, (i + 1) * 512), 512 * (i + 1));
  writeFileSync(archive, bytes);
  const index = indexArchive(archive);
  assert.equal([...index.keys()], ["a"]);
  assert.equal(index.get("a"), { offset: 5 * 512, size: 5 });
});

test.run();
