// Reading kernel and initramfs images: from memory or from a file, piece by
// piece; a read outside the image, a file that shrank, a directory or a read
// after close is an error naming the image.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bufferReader, openFileReader, readAll } from "../../../../stages/boot/loader/image-reader.js";

const work = mkdtempSync(join(tmpdir(), "image-reader-"));
const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => i % 251);

test("a file reader reads any range, the same bytes as a buffer reader", () => {
  const path = join(work, "image");
  writeFileSync(path, bytes);
  const file = openFileReader(path, "kernel");
  const buffer = bufferReader(bytes, "kernel");
  try {
    assert.is(file.size, bytes.length);
    for (const [offset, length] of [[0, 1], [0, 10_000], [4095, 2], [9_990, 10], [123, 0]]) {
      const a = new Uint8Array(length);
      const b = new Uint8Array(length);
      file.read(offset, a);
      buffer.read(offset, b);
      assert.equal(a, bytes.subarray(offset, offset + length));
      assert.equal(b, a);
    }
    assert.equal(readAll(file), bytes);
  } finally {
    file.close();
  }
});

test("reads outside the image are refused, naming it", () => {
  const path = join(work, "image");
  writeFileSync(path, bytes);
  const file = openFileReader(path, "initramfs");
  try {
    for (const r of [file, bufferReader(bytes, "initramfs")]) {
      assert.throws(() => r.read(9_999, new Uint8Array(2)), /^initramfs.*2 bytes at offset 9999 lie outside its 10000 bytes/);
      assert.throws(() => r.read(-1, new Uint8Array(1)), /initramfs.*outside/);
      assert.throws(() => r.read(2 ** 60, new Uint8Array(1)), /initramfs.*outside/);
    }
  } finally {
    file.close();
  }
});

test("a file that shrinks after it was opened is an error, not a short read", () => {
  const path = join(work, "shrinks");
  writeFileSync(path, bytes);
  const file = openFileReader(path, "kernel");
  try {
    truncateSync(path, 5000);
    assert.throws(() => file.read(4000, new Uint8Array(2000)), /^kernel .*shrinks: ended at 5000 bytes, before the 10000 it had when opened$/);
  } finally {
    file.close();
  }
});

test("missing files and directories are refused at open; close is once, reads after it are refused", () => {
  assert.throws(() => openFileReader(join(work, "missing"), "kernel"), /^kernel .*missing: ENOENT$/);
  assert.throws(() => openFileReader(work, "kernel"), /^kernel .*: not a regular file$/);
  const path = join(work, "image");
  writeFileSync(path, bytes);
  const file = openFileReader(path, "kernel");
  file.close();
  file.close(); // does not close another descriptor that took the number
  assert.throws(() => file.read(0, new Uint8Array(1)), /read after close/);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
