// Bad input: requests, metadata.jsonl lines and unpacked directories that
// are wrong fail with one clear line naming what is wrong, and leave nothing
// behind (no temp file or directory, nothing where the image was to go).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseMkrootfsRequest } from "../../../stages/mkrootfs/request.js";
import { parseMetadata } from "../../../stages/mkrootfs/metadata.js";
import { mkrootfs } from "../../../stages/mkrootfs/mkrootfs.js";
import { imageOut, makeUnpackedImage, tempDir } from "./fixture.js";

const work = tempDir();
const buildRun = fileURLToPath(new URL("./fixtures/build-run.js", import.meta.url));
test.after(() => rmSync(work, { recursive: true, force: true }));

test("request: defaults and every field checked", () => {
  assert.equal(parseMkrootfsRequest({ input: "/x", out: "/o" }), { input: "/x", out: "/o", fs: "ext4" });
  assert.equal(parseMkrootfsRequest({ input: "/x", fs: "squashfs", out: "/o" }), { input: "/x", fs: "squashfs", out: "/o" });
  assert.equal(parseMkrootfsRequest({ input: "/x", out: "/o", diskMiB: 512 }).diskMiB, 512);
  const bad: [unknown, RegExp][] = [
    [null, /expected an object/],
    [{}, /input must be/],
    [{ input: "", out: "/o" }, /input must be/],
    [{ input: "/x" }, /out must be a non-empty path/],
    [{ input: "/x", out: "" }, /out must be a non-empty path/],
    [{ input: "/x", out: "/o", extra: 1 }, /unknown field "extra"/],
    [{ input: "/x", out: "/o", fs: "xfs" }, /fs must be "ext4" or "squashfs", not "xfs"/],
    [{ input: "/x", out: "/o", diskMiB: 0 }, /diskMiB must be a whole number/],
    [{ input: "/x", out: "/o", diskMiB: 1.5 }, /diskMiB must be a whole number/],
    [{ input: "/x", out: "/o", diskMiB: "512" }, /diskMiB must be a whole number/],
    [{ input: "/x", out: "/o", fs: "squashfs", diskMiB: 64 }, /diskMiB applies to ext4 only/],
    // The stage never sees the cache: an old caller asking for it is told so.
    [{ input: "/x", out: "/o", cache: true }, /cache is no longer a stage field: the stage builds into out, and the caller caches/],
  ];
  for (const [raw, message] of bad) assert.throws(() => parseMkrootfsRequest(raw), message);
});

test("metadata.jsonl: each bad line named by number and reason", () => {
  const bad: [string, RegExp][] = [
    ["{", /line 2: not valid JSON/],
    ["[1]", /line 2: expected a JSON object/],
    ['{"path":"/a","owner":1}', /unknown field "owner"/],
    ['{"path":"a"}', /path "a" is not absolute/],
    ['{"path":"/a/../etc"}', /has a "\.\." component/],
    ['{"path":"/a//b"}', /empty component/],
    ['{"path":"/a/"}', /ends with \//],
    ['{"path":"/a\\nwrite /etc/shadow x"}', /control character/],
    ['{"path":"/a","uid":-1}', /uid must be an integer/],
    ['{"path":"/a","gid":4294967295}', /gid must be an integer/],
    ['{"path":"/a","mode":"0755"}', /mode must be an integer/],
    ['{"path":"/a","xattrs":{"user.x":"not base64!"}}', /xattr "user.x" is not base64/],
    ['{"path":"/a","xattrs":{"os2.x":"AA=="}}', /must start with user\./],
    ['{"path":"/a","xattrs":[]}', /xattrs must be an object/],
    ['{"path":"/a","kind":"socket"}', /kind must be/],
    ['{"path":"/a","kind":"chardev"}', /chardev without rdev/],
    ['{"path":"/a","kind":"blockdev","rdev":[4096,0]}', /rdev must be/],
    ['{"path":"/","kind":"fifo"}', /"\/" cannot be a fifo/],
    ['{"path":"/a","kind":"fifo","mtime":-1}', /mtime must be seconds from 0 to 17179869183/],
    ['{"path":"/a","kind":"fifo","mtime":"1700000000"}', /mtime must be seconds/],
    ['{"path":"/a","mtime":1700000000}', /"\/a" has an mtime, which only a device node or FIFO takes from here/],
  ];
  for (const [line, message] of bad) {
    assert.throws(() => parseMetadata(`\n${line}\n`, "metadata.jsonl"), (err: Error) => message.test(err.message) && /line 2|without rdev|cannot be|has an mtime/.test(err.message) && !err.message.includes("\n"), line);
  }
});

test("metadata.jsonl: blank lines skipped, a later line for one path adds to the earlier", () => {
  const entries = parseMetadata('{"path":"/a","uid":1}\n\n{"path":"/a","gid":2,"mode":33261}\n');
  assert.equal(entries.get("/a"), { path: "/a", uid: 1, gid: 2, mode: 0o755 });
});

/** The stage's scratch directories, and what is beside `out` (its temp file, the image). */
function leftovers(out: string): string[] {
  const scratch = readdirSync(tmpdir()).filter((name) => /^mkrootfs-(debugfs|squashfs)-/.test(name));
  const beside = existsSync(dirname(out)) ? readdirSync(dirname(out)) : [];
  return [...scratch, ...beside];
}

async function failure(request: Parameters<typeof mkrootfs>[0]): Promise<string> {
  const before = leftovers(request.out);
  try {
    await mkrootfs(request);
  } catch (err) {
    const message = (err as Error).message;
    assert.not.match(message, /\n/, "one line");
    assert.equal(leftovers(request.out), before, "nothing left behind");
    return message;
  }
  throw new Error("expected mkrootfs to fail");
}

test("unpacked directory: missing pieces named", async () => {
  assert.match(await failure({ input: join(work, "nope"), fs: "ext4", out: imageOut() }), /no such unpacked image directory/);
  const dir = join(work, "partial");
  mkdirSync(dir);
  assert.match(await failure({ input: dir, fs: "ext4", out: imageOut() }), /missing rootfs\//);
  mkdirSync(join(dir, "rootfs"));
  assert.match(await failure({ input: dir, fs: "ext4", out: imageOut() }), /missing metadata\.jsonl/);
  writeFileSync(join(dir, "metadata.jsonl"), "");
  assert.match(await failure({ input: dir, fs: "ext4", out: imageOut() }), /config\.json: missing/);
  // Not a file that is not JSON: a directory in its place.
  mkdirSync(join(dir, "config.json"));
  assert.match(await failure({ input: dir, fs: "ext4", out: imageOut() }), /config\.json: not a regular file$/);
  rmSync(join(dir, "config.json"), { recursive: true });
  writeFileSync(join(dir, "config.json"), "{");
  assert.match(await failure({ input: dir, fs: "ext4", out: imageOut() }), /config\.json: not valid JSON$/);
  writeFileSync(join(dir, "config.json"), "{}");
  assert.match(await failure({ input: dir, fs: "ext4", out: imageOut() }), /digest must be an OCI digest/);
});

test("an unpacked directory from a compromised unpack: symlinks, a FIFO, a device, a platform with escapes are refused in one line", async () => {
  const refusedWith = async (change: (dir: string) => void, pattern: RegExp) => {
    const dir = makeUnpackedImage({ entries: [{ path: "/a", type: "file", content: "a" }] });
    change(dir);
    const started = Date.now();
    assert.match(await failure({ input: dir, fs: "ext4", out: imageOut() }), pattern);
    assert.ok(Date.now() - started < 10_000, "refused at once, not after waiting on a FIFO");
  };
  // rootfs -> /etc/apt copied the host's /etc/apt into the image.
  await refusedWith((dir) => (rmSync(join(dir, "rootfs"), { recursive: true }), symlinkSync("/etc/apt", join(dir, "rootfs"))), /rootfs is not a directory \(a symlink\)$/);
  await refusedWith((dir) => (rmSync(join(dir, "metadata.jsonl")), symlinkSync("/etc/hostname", join(dir, "metadata.jsonl"))), /metadata\.jsonl: not a regular file \(a symlink\)$/);
  // A FIFO blocked the stage in open() for good; /dev/zero grew its memory without end.
  await refusedWith((dir) => (rmSync(join(dir, "config.json")), execFileSync("mkfifo", [join(dir, "config.json")])), /config\.json: not a regular file$/);
  await refusedWith((dir) => (rmSync(join(dir, "config.json")), symlinkSync("/dev/zero", join(dir, "config.json"))), /config\.json: is a symlink, expected a regular file$/);
  await refusedWith((dir) => writeFileSync(join(dir, "config.json"), JSON.stringify({ digest: `sha256:${"a".repeat(64)}`, platform: "x\n\x1b[2K\rbuilt ext4 image /fake" })), /config\.json: platform must be os\/architecture\[\/variant\] such as "linux\/amd64", not "x\\n\\u001b\[2K\\rbuilt ext4 image \/fake"$/);
});

test("/lost+found, which mke2fs makes itself, cannot be a node from metadata.jsonl nor a file in the tree", async () => {
  // A FIFO there was a second "lost+found" entry beside mke2fs's, whose directory inode it turned into a FIFO.
  const fifo = makeUnpackedImage({ entries: [{ path: "/a", type: "file", content: "a" }], metadata: [{ path: "/lost+found", kind: "fifo", mode: 0o644 }] });
  assert.match(await failure({ input: fifo, fs: "ext4", out: imageOut() }), /^metadata\.jsonl: "\/lost\+found" is a fifo, but ext4 keeps that name for its own directory$/);
  const file = makeUnpackedImage({ entries: [{ path: "/lost+found", type: "file", content: "a" }] });
  assert.match(await failure({ input: file, fs: "ext4", out: imageOut() }), /^rootfs: "\/lost\+found" is not a directory, but ext4 keeps that name for its own directory$/);
});

test("out in a directory that does not exist is refused before any work", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/a", type: "file", content: "a" }] });
  assert.match(await failure({ input, fs: "ext4", out: join(work, "no/such/dir/x.ext4") }), /out: .*no\/such\/dir is not an existing directory/);
});

test("metadata that contradicts the tree is refused", async () => {
  const entries = [{ path: "/etc/passwd", type: "file" as const, content: "x" }, { path: "/lnk", type: "symlink" as const, target: "/etc" }];
  const cases: [object, RegExp][] = [
    [{ path: "/missing", uid: 1 }, /"\/missing" does not exist in rootfs\//],
    [{ path: "/etc/passwd", kind: "fifo" }, /"\/etc\/passwd" is a fifo but exists in rootfs\//],
    [{ path: "/nodir/null", kind: "chardev", rdev: [1, 3] }, /"\/nodir" is not a directory in rootfs\//],
    // A symlinked parent is not followed (on the host it could lead anywhere).
    [{ path: "/lnk/null", kind: "chardev", rdev: [1, 3] }, /"\/lnk" is not a directory in rootfs\//],
    [{ path: "/lnk/passwd", uid: 1 }, /"\/lnk\/passwd" does not exist in rootfs\//],
  ];
  for (const [line, message] of cases) {
    const input = makeUnpackedImage({ entries, metadata: [line] });
    assert.match(await failure({ input, fs: "ext4", out: imageOut() }), message);
  }
});

test("--disk smaller than the content: one clear line, nothing left", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/big", type: "file", content: Buffer.alloc(20 * 1024 * 1024, 1) }] });
  const message = await failure({ input, fs: "ext4", out: imageOut(), diskMiB: 8 });
  assert.match(message, /^disk of 8 MiB is too small: the image's \d+ files need at least \d+ MiB$/);
  const out = join(work, "small.ext4");
  await failure({ input, fs: "ext4", out, diskMiB: 8 });
  assert.equal(readdirSync(work).filter((name) => name.includes("small.ext4")), []);
});

test("a tree deeper than PATH_MAX: one short line naming the path inside the image, not Node's 4 KB message", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/a", type: "file", content: "a" }] });
  const name = "d".repeat(200);
  // Deeper than any one path may be: made a step at a time with relative chdir, as a tar could.
  const dig = `process.chdir(process.argv[1]); for (let i = 0; i < 25; i++) { fs.mkdirSync(${JSON.stringify(name)}); process.chdir(${JSON.stringify(name)}); } fs.writeFileSync("leaf", "x");`;
  execFileSync(process.execPath, ["-e", dig, join(input, "rootfs")]);
  try {
    const message = await failure({ input, fs: "ext4", out: imageOut() });
    assert.match(message, /^rootfs: "\/d{59}…d{40}" \(\d+ bytes\) is too long a path: with rootfs\/ it passes PATH_MAX \(4096 bytes\)$/);
    assert.ok(message.length < 250, `${message.length} characters`);
  } finally {
    execFileSync("rm", ["-rf", join(input, "rootfs", name)]); // Node's rmSync cannot remove a tree this deep
  }
});

test("a disk larger than one file may be where it is built: one line naming the size and what the content needs, nothing left", () => {
  const input = makeUnpackedImage({ entries: [{ path: "/a", type: "file", content: "a" }] });
  const out = imageOut();
  // A file-size limit of 64 MiB stands in for a file system that refuses a file that large.
  const said = execFileSync("sh", ["-c", 'ulimit -f 131072 && exec "$@"', "sh", process.execPath, buildRun, input, out, "1024"], { encoding: "utf8" });
  const report = JSON.parse(said.trim().split("\n").pop()!) as { error?: string };
  assert.match(report.error ?? "", /^disk of 1024 MiB is larger than one file may be where the image is built \(EFBIG\); the content needs \d+ MiB$/);
  assert.equal(readdirSync(dirname(out)), []);
});

test.run();
