// The guest-init build: static, small, cached by source hash, and a clear
// one-line error when the compiler is missing.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildGuestInit, guestInitPath } from "../../guest-init/build.js";
import { locateGuestInit } from "../../guest-init/locate.js";
import { guestInitramfs } from "../../guest-init/initramfs.js";

function withCache<T>(fn: (cache: string) => T): T {
  const cache = mkdtempSync(join(tmpdir(), "guest-init-cache-"));
  const saved = process.env.BENCHER_RUN_CACHE;
  process.env.BENCHER_RUN_CACHE = cache;
  try {
    return fn(cache);
  } finally {
    if (saved === undefined) delete process.env.BENCHER_RUN_CACHE;
    else process.env.BENCHER_RUN_CACHE = saved;
    rmSync(cache, { recursive: true, force: true });
  }
}

test("builds a small static x86-64 ELF into the cache, keyed by the sources", () => {
  withCache((cache) => {
    const path = locateGuestInit();
    assert.ok(path.startsWith(join(cache, "guest-init")));
    assert.match(path, /guest-init\/[0-9a-f]{16}\/init$/);
    const elf = readFileSync(path);
    assert.equal([...elf.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    assert.is(elf.readUInt16LE(18), 62, "x86-64");
    assert.not.ok(elf.includes("ld-linux") || elf.includes("ld-musl"), "no dynamic loader: static");
    assert.ok(elf.length < 200_000, `${elf.length} bytes`);
    assert.is(locateGuestInit(), path, "second call reuses the build");
  });
});

test("a missing compiler is a one-line error saying how to install it, leaving nothing behind", () => {
  withCache((cache) => {
    const savedPath = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      assert.throws(() => buildGuestInit(), /^guest-init: musl-gcc not found; install it \(Debian: apt-get install musl-tools\) and retry$/);
    } finally {
      process.env.PATH = savedPath;
    }
    assert.not.ok(existsSync(guestInitPath()));
    const dir = join(guestInitPath(), "..");
    assert.equal(existsSync(dir) ? readdirSync(dir) : [], [], "no temp file left");
    assert.ok(cache);
  });
});

test("the initramfs holds /init, its mount points and /dev/console", () => {
  const archive = guestInitramfs(locateGuestInit());
  const names: [string, number][] = [];
  for (let at = 0; ; ) {
    const header = archive.subarray(at, at + 110).toString("ascii");
    assert.is(header.slice(0, 6), "070701");
    const mode = parseInt(header.slice(14, 22), 16);
    const size = parseInt(header.slice(54, 62), 16);
    const nameSize = parseInt(header.slice(94, 102), 16);
    const name = archive.subarray(at + 110, at + 110 + nameSize - 1).toString();
    if (name === "TRAILER!!!") break;
    names.push([name, mode]);
    at += Math.ceil((110 + nameSize) / 4) * 4 + Math.ceil(size / 4) * 4;
  }
  assert.equal(names.map(([n]) => n).sort(), ["dev", "dev/console", "init", "newroot", "proc", "sys", "tmp"]);
  assert.is(names.find(([n]) => n === "init")![1], 0o100755);
  assert.is(names.find(([n]) => n === "dev/console")![1], 0o020600);
});

test.run();
