// `bencher-run mkrootfs` given input it cannot use: refused in one line that
// names the option as typed, before the build, leaving nothing behind.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers.js";
import { makeUnpackedImage } from "../../stages/mkrootfs/fixture.js";
import { readImageFile } from "../../stages/mkrootfs/inspect.js";

const work = mkdtempSync(join(tmpdir(), "cli-mkrootfs-test-"));
const cache = join(work, "cache");
const env = { BENCHER_RUN_CACHE: cache };
const input = makeUnpackedImage({ entries: [{ path: "/hello", type: "file", content: "hello\n" }] }, join(work, "unpacked"));
test.after(() => rmSync(work, { recursive: true, force: true }));

test("an --out the command cannot write is refused before the build, naming --out, not a work file", async () => {
  mkdirSync(join(work, "a-directory"));
  const cases: [string, RegExp][] = [
    ["/sys/x.ext4", /^bencher-run: --out \/sys\/x\.ext4: cannot create files in \/sys: (read-only file system|permission denied)$/],
    ["/proc/x.ext4", /^bencher-run: --out \/proc\/x\.ext4: \/proc does not take new files$/],
    [join(work, "a-directory"), /: is a directory \(name the file to write\)$/],
  ];
  for (const [out, said] of cases) {
    const r = await runCli(["mkrootfs", "--input", input, "--out", out], env);
    assert.is(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, said);
    assert.not.ok(existsSync(join(cache, "rootfs")), "refused before anything was built");
  }
});

test("under root, an --input file or directory the stages' uid cannot read is named before the build, not misread as bad JSON", async () => {
  if (process.getuid?.() !== 0) return; // the stages are the caller then, and read what they can
  const hint = `which the stages run as under root (make it readable to others: chmod -R o+rX ${input})`;
  chmodSync(join(input, "config.json"), 0o600);
  const file = await runCli(["mkrootfs", "--input", input, "--out", join(work, "r.ext4")], env);
  assert.is(file.exitCode, 1);
  assert.is(file.stderr, `bencher-run: --input ${input}: config.json cannot be read by uid 65534, ${hint}`);
  chmodSync(join(input, "config.json"), 0o644);
  mkdirSync(join(input, "rootfs", "private"), { mode: 0o700 });
  const dir = await runCli(["mkrootfs", "--input", input, "--out", join(work, "r.ext4")], env);
  assert.is(dir.stderr, `bencher-run: --input ${input}: rootfs/private cannot be read by uid 65534, ${hint}`);
  rmSync(join(input, "rootfs", "private"), { recursive: true });
  assert.not.ok(existsSync(join(work, "r.ext4")));
  assert.not.ok(existsSync(join(cache, "rootfs")), "refused before anything was built");
});

test("a --disk-mib beyond what the stage builds is the command line's error, in the option's words", async () => {
  for (const value of ["99999999999", "16777217", "0"]) {
    const r = await runCli(["mkrootfs", "--input", input, "--disk-mib", value], env);
    assert.is(r.exitCode, 2, r.stderr);
    assert.is(r.stderr, `bencher-run: --disk-mib ${value}: expected a whole number from 1 to 16777216`);
  }
  assert.not.ok(existsSync(join(cache, "rootfs")), "refused before anything was built");
});

test("a cache that cannot take an image fails before the build, in one line naming the path", async () => {
  const broken = join(work, "broken-cache");
  mkdirSync(join(broken, "rootfs"), { recursive: true });
  writeFileSync(join(broken, "rootfs", "tmp"), "");
  const r = await runCli(["mkrootfs", "--input", input, "--verbose"], { BENCHER_RUN_CACHE: broken });
  assert.is(r.exitCode, 1);
  assert.is(r.stderr, `bencher-run: ${join(broken, "rootfs", "tmp")} exists and is not a directory`, "no build ran first (--verbose shows its logs)");
});

test("two directories claiming one digest each get their own tree: a claim keys the cache by its directory", async () => {
  const digest = `sha256:${"9".repeat(64)}`;
  const first = makeUnpackedImage({ entries: [{ path: "/who", type: "file", content: "first\n" }], digest }, join(work, "claims-first"));
  const second = makeUnpackedImage({ entries: [{ path: "/who", type: "file", content: "second\n" }], digest }, join(work, "claims-second"));
  const a = await runCli(["mkrootfs", "--input", first, "--json"], env);
  const b = await runCli(["mkrootfs", "--input", second, "--json"], env);
  assert.is(a.exitCode, 0, a.stderr);
  assert.is(b.exitCode, 0, b.stderr);
  const [builtA, builtB] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
  assert.is(builtB.cached, false, "the second directory's tree is built, not the first's served");
  assert.is.not(builtB.cacheKey, builtA.cacheKey);
  assert.equal(readImageFile(builtB.image, "/who").toString(), "second\n");
  assert.equal(readImageFile(builtA.image, "/who").toString(), "first\n");
  // And under root the cache is the runner's alone: no stage uid may write it.
  assert.equal([statSync(join(cache, "rootfs")).uid, statSync(builtA.image).uid], [process.getuid!(), process.getuid!()]);
});

test.run();
