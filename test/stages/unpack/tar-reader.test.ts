// The layer tar parser on well-formed, unusual and broken input.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { TarReader, MAX_EXTENDED_HEADER, type TarMember } from "../../../stages/unpack/tar-reader.js";
import { encodeTarHeader, END_OF_ARCHIVE } from "../../../lib/oci/tar-header.js";
import { tarBytes } from "./helpers.js";

function parse(bytes: Buffer, chunkSize = bytes.length): Array<TarMember & { body: string }> {
  const seen: Array<TarMember & { body: string }> = [];
  const reader = new TarReader((member) => {
    const entry = { ...member, body: "" };
    seen.push(entry);
    return { write: (chunk) => (entry.body += chunk.toString("latin1")), end: () => {} };
  });
  for (let at = 0; at < bytes.length; at += chunkSize) reader.push(bytes.subarray(at, at + chunkSize));
  reader.end();
  return seen;
}

const sample = tarBytes([
  { name: "dir/", type: "dir", mode: 0o1777, mtime: 1234 },
  { name: "dir/file", type: "file", data: "x".repeat(700), mode: 0o4755, uid: 7, gid: 8 },
  { name: "dir/" + "n".repeat(200), type: "file", data: "long" },
  { name: "link", type: "symlink", linkname: "t".repeat(300) },
  { name: "hard", type: "hardlink", linkname: "dir/file" },
  { name: "null", type: "chardev", devmajor: 1, devminor: 3 },
  { name: "cap", type: "file", xattrs: { "security.capability": Buffer.from([0, 0, 0, 2, 0x20, 0xff, 0x0a, 0x3d]) } },
]);

test("members, data, long names and binary xattrs come through", () => {
  const seen = parse(sample);
  assert.equal(seen.map((m) => m.name), ["dir/", "dir/file", "dir/" + "n".repeat(200), "link", "hard", "null", "cap"]);
  assert.is(seen[0].mode, 0o1777);
  assert.is(seen[0].mtime, 1234);
  assert.is(seen[1].body, "x".repeat(700));
  assert.is(seen[1].mode, 0o4755);
  assert.is(seen[1].uid, 7);
  assert.is(seen[3].linkname, "t".repeat(300));
  assert.is(seen[4].type, "hardlink");
  assert.equal([seen[5].devmajor, seen[5].devminor], [1, 3]);
  assert.equal([...seen[6].xattrs.get("security.capability")!], [0, 0, 0, 2, 0x20, 0xff, 0x0a, 0x3d]);
});

test("any chunking gives the same result", () => {
  const whole = JSON.stringify(parse(sample), (_k, v) => (v instanceof Map ? [...v] : v));
  for (const size of [1, 7, 511, 512, 513, 4096]) {
    assert.is(JSON.stringify(parse(sample, size), (_k, v) => (v instanceof Map ? [...v] : v)), whole, `chunk ${size}`);
  }
});

test("a corrupted header fails its checksum", () => {
  const bad = Buffer.from(sample);
  bad[10] ^= 0x01;
  assert.throws(() => parse(bad), /checksum/);
});

test("a header whose checksum field is not a number fails its checksum", () => {
  const text = Buffer.alloc(1024);
  text.write("root:x:0:0:root:/root:/bin/bash\n".repeat(20).slice(0, 512)); // a text file, not a tar
  assert.throws(() => parse(text), /^bad tar header checksum \(member 1\)$/);
});

test("a truncated layer fails, naming the member", () => {
  assert.throws(() => parse(sample.subarray(0, 512 + 600)), /truncated in the middle of "dir\/file"/);
  assert.throws(() => parse(sample.subarray(0, 100)), /truncated/);
});

test("an oversized PAX header is refused before it is buffered", () => {
  const header = encodeTarHeader({ name: "PaxHeaders/x", type: "file", size: 0 });
  // Rewrite as a PAX header ('x') claiming 1 GiB: nothing close to that may be allocated.
  header.write("x", 156, "latin1");
  header.write((2 ** 30).toString(8).padStart(11, "0") + "\0", 124, "latin1");
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  assert.throws(() => parse(header), new RegExp(`exceeds the ${MAX_EXTENDED_HEADER}-byte limit`));
});

test("absurd sizes are refused", () => {
  const huge = tarBytes([{ name: "f", type: "file", pax: { size: "99999999999999999999" } }], false);
  assert.throws(() => parse(huge), /size/);
  const tooBig = tarBytes([{ name: "f", type: "file", pax: { size: String(2 ** 41) } }], false);
  assert.throws(() => parse(tooBig), /absurd size/);
  // base-256 encoded negative size
  const neg = encodeTarHeader({ name: "g", type: "file" });
  neg.fill(0xff, 124, 136);
  neg.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of neg) sum += b;
  neg.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  assert.throws(() => parse(neg), /negative size/);
});

test("unsupported member types and malformed PAX records are refused", () => {
  const sparse = encodeTarHeader({ name: "s", type: "file" });
  sparse.write("S", 156, "latin1");
  sparse.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of sparse) sum += b;
  sparse.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  assert.throws(() => parse(Buffer.concat([sparse, END_OF_ARCHIVE])), /unsupported tar member type/);
  const pax = encodeTarHeader({ name: "p", type: "file", pax: { path: "p2" } });
  pax.write("99", 512, "latin1"); // record length now points past the data
  assert.throws(() => parse(Buffer.concat([pax, END_OF_ARCHIVE])), /malformed PAX record|checksum/);
});

test("GNU tar's PAX sparse files are refused, naming the file, not written as their raw map", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tar-reader-sparse-"));
  try {
    // A file with a hole, archived as GNU tar does it with --sparse --format=pax (sparse format 1.0).
    writeFileSync(join(dir, "holes"), "");
    truncateSync(join(dir, "holes"), 1 << 20);
    writeFileSync(join(dir, "holes"), "data", { flag: "r+" });
    await execa("tar", ["--sparse", "--format=pax", "-cf", join(dir, "sparse.tar"), "-C", dir, "holes"]);
    const real = readFileSync(join(dir, "sparse.tar"));
    assert.throws(() => parse(real), (e: Error) => e.message === 'unsupported tar member: "holes" is a GNU sparse file (PAX GNU.sparse.* records); make the layer without tar --sparse');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Sparse format 0.1: a map record and no GNU.sparse.name, so the member's own name is given.
  const old = tarBytes([{ name: "GNUSparseFile.1/f", type: "file", data: "x", pax: { "GNU.sparse.map": "0,1", "GNU.sparse.size": "4096" } }]);
  assert.throws(() => parse(old), /^unsupported tar member: "GNUSparseFile\.1\/f" is a GNU sparse file/);
});

test("a name that is not UTF-8 is refused, not rewritten (plain, long and PAX names, link targets)", () => {
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1
  const plain = encodeTarHeader({ name: "placeholder", type: "file" });
  plain.fill(0, 0, 100);
  latin1.copy(plain, 0);
  plain.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of plain) sum += b;
  plain.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  assert.throws(() => parse(Buffer.concat([plain, END_OF_ARCHIVE])), /member name "caf\?" is not valid UTF-8 \(bytes 636166e9\)/);
  const pax = encodeTarHeader({ name: "p", type: "symlink", linkname: "t", pax: { linkpath: latin1 } });
  assert.throws(() => parse(Buffer.concat([pax, END_OF_ARCHIVE])), /not valid UTF-8/);
  // Real UTF-8 is kept as it is.
  assert.equal(parse(tarBytes([{ name: "café/ü", type: "file", data: "x" }])).map((m) => m.name), ["café/ü"]);
});

test("data after the end-of-archive marker is ignored", () => {
  const seen = parse(Buffer.concat([sample, Buffer.from("trailing garbage")]));
  assert.is(seen.length, 7);
});

test.run();
