// One image with everything mkrootfs must carry over: several owners,
// setuid/setgid/sticky bits, a hard-linked pair, symlinks (short, long,
// absolute), sub-second mtimes, awkward names, xattrs, device nodes and a
// FIFO. Tests build it and compare the result with `expected`.
import { createCipheriv, createHash } from "node:crypto";
import type { FixtureEntry, FixtureImage } from "./fixture.js";

export interface Expected {
  type: "regular" | "directory" | "symlink" | "character special" | "block special" | "FIFO";
  perm: number;
  uid: number;
  gid: number;
  mtime?: { sec: number; nsec: number };
  content?: Buffer;
  target?: string;
  rdev?: [number, number];
  xattrs?: Record<string, Buffer>;
  /** Paths that must share this entry's inode. */
  linkedWith?: string;
}

const b64 = (data: Buffer | string) => Buffer.from(data).toString("base64");

/** Deterministic pseudo-random bytes, so a test and a child process build identical images. */
export function noise(length: number, seed: string): Buffer {
  const key = createHash("sha256").update(seed).digest();
  return createCipheriv("aes-256-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(length));
}

export function richImage(): { image: FixtureImage; expected: Map<string, Expected> } {
  const busybox = noise(300 * 1024, "busybox");
  const capability = Buffer.from("0100000200200000000000000000000000000000", "hex"); // cap_net_raw+ep
  const longTarget = "/usr/lib/x86_64-linux-gnu/some/deeply/nested/library/libexample.so.1.2.3";
  const t = (sec: number, nsec = 0) => ({ sec, nsec });
  const entries: FixtureEntry[] = [
    { path: "/bin", type: "dir", mode: 0o755, mtime: t(1600000000) },
    { path: "/bin/busybox", type: "file", content: busybox, mode: 0o755, mtime: t(1600000001, 123456789) },
    { path: "/bin/su", type: "file", content: "#!/bin/sh\necho su\n", mode: 0o4755, mtime: t(1600000002) },
    { path: "/bin/ping", type: "file", content: "ping", mode: 0o755, mtime: t(1600000003, 1) },
    { path: "/usr/bin/wall", type: "file", content: "wall", mode: 0o2755, mtime: t(1600000004) },
    { path: "/usr/bin/sh", type: "symlink", target: "../../bin/busybox", mtime: t(1600000005, 5) },
    { path: "/usr/lib/libexample.so", type: "symlink", target: longTarget, mtime: t(1600000006) },
    { path: "/etc/mtab", type: "symlink", target: "/proc/self/mounts", mtime: t(1600000007) },
    { path: "/etc/passwd", type: "file", content: "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n", mode: 0o644, mtime: t(1600000008) },
    { path: "/etc/shadow", type: "file", content: "root:*:1::::::\n", mode: 0o640, mtime: t(1600000009) },
    { path: "/tmp", type: "dir", mode: 0o1777, mtime: t(1600000010) },
    { path: "/home/alice", type: "dir", mode: 0o750, mtime: t(1600000011, 999999999) },
    { path: "/home/alice/notes.txt", type: "file", content: "alice's notes\n", mode: 0o600, mtime: t(1600000012) },
    { path: "/home/big/file", type: "file", content: "owned by a uid above 65535\n", mode: 0o644, mtime: t(1600000013) },
    { path: "/data/a", type: "file", content: "linked content\n", mode: 0o640, mtime: t(1600000014, 500) },
    { path: "/data/b", type: "hardlink", target: "/data/a" },
    { path: "/data/empty", type: "file", content: "", mode: 0o644, mtime: t(0) },
    { path: '/srv/we"ird name with spaces', type: "file", content: "weird\n", mode: 0o644, mtime: t(1600000015) },
    { path: "/srv/back\\slash", type: "file", content: "backslash\n", mode: 0o644, mtime: t(1600000016, 16) },
    { path: "/srv/ünïcödé", type: "file", content: "unicode\n", mode: 0o644, mtime: t(1600000017) },
    { path: "/dev", type: "dir", mode: 0o755, mtime: t(1600000018) },
    { path: "/run", type: "dir", mode: 0o755, mtime: t(1600000019) },
    { path: "/", type: "dir", mode: 0o755, mtime: t(1600000020, 20) },
  ];
  const metadata = [
    { path: "/usr/bin/wall", gid: 5 },
    { path: "/home/alice", uid: 1000, gid: 1000 },
    { path: "/home/alice/notes.txt", uid: 1000, gid: 1000 },
    { path: "/home/big/file", uid: 100000, gid: 200000 },
    { path: "/data/a", uid: 33, gid: 33, xattrs: { "user.note": b64("hello"), "trusted.secret": b64(Buffer.from([0, 1, 2, 255])) } },
    { path: "/etc/shadow", gid: 42 },
    { path: "/bin/ping", xattrs: { "security.capability": b64(capability) } },
    { path: '/srv/we"ird name with spaces', uid: 7, gid: 8, mode: 0o600 },
    { path: "/dev/null", kind: "chardev", rdev: [1, 3], mode: 0o666, mtime: 1600000030.5 },
    { path: "/dev/sda", kind: "blockdev", rdev: [8, 0], mode: 0o660, gid: 6 },
    { path: "/run/initctl", kind: "fifo", mode: 0o600, uid: 5, gid: 5, mtime: 1600000031 },
  ];

  const expected = new Map<string, Expected>();
  const reg = (path: string, content: Buffer | string, perm: number, mtime: { sec: number; nsec: number }, uid = 0, gid = 0, extra: Partial<Expected> = {}) =>
    expected.set(path, { type: "regular", perm, uid, gid, mtime, content: Buffer.from(content), ...extra });
  expected.set("/", { type: "directory", perm: 0o755, uid: 0, gid: 0, mtime: t(1600000020, 20) });
  expected.set("/bin", { type: "directory", perm: 0o755, uid: 0, gid: 0, mtime: t(1600000000) });
  reg("/bin/busybox", busybox, 0o755, t(1600000001, 123456789));
  reg("/bin/su", "#!/bin/sh\necho su\n", 0o4755, t(1600000002));
  reg("/bin/ping", "ping", 0o755, t(1600000003, 1), 0, 0, { xattrs: { "security.capability": capability } });
  reg("/usr/bin/wall", "wall", 0o2755, t(1600000004), 0, 5);
  expected.set("/usr/bin/sh", { type: "symlink", perm: 0o777, uid: 0, gid: 0, mtime: t(1600000005, 5), target: "../../bin/busybox" });
  expected.set("/usr/lib/libexample.so", { type: "symlink", perm: 0o777, uid: 0, gid: 0, mtime: t(1600000006), target: longTarget });
  expected.set("/etc/mtab", { type: "symlink", perm: 0o777, uid: 0, gid: 0, mtime: t(1600000007), target: "/proc/self/mounts" });
  reg("/etc/shadow", "root:*:1::::::\n", 0o640, t(1600000009), 0, 42);
  expected.set("/tmp", { type: "directory", perm: 0o1777, uid: 0, gid: 0, mtime: t(1600000010) });
  expected.set("/home/alice", { type: "directory", perm: 0o750, uid: 1000, gid: 1000, mtime: t(1600000011, 999999999) });
  reg("/home/alice/notes.txt", "alice's notes\n", 0o600, t(1600000012), 1000, 1000);
  reg("/home/big/file", "owned by a uid above 65535\n", 0o644, t(1600000013), 100000, 200000);
  const dataXattrs = { "user.note": Buffer.from("hello"), "trusted.secret": Buffer.from([0, 1, 2, 255]) };
  reg("/data/a", "linked content\n", 0o640, t(1600000014, 500), 33, 33, { xattrs: dataXattrs });
  reg("/data/b", "linked content\n", 0o640, t(1600000014, 500), 33, 33, { xattrs: dataXattrs, linkedWith: "/data/a" });
  reg("/data/empty", "", 0o644, t(0));
  reg('/srv/we"ird name with spaces', "weird\n", 0o600, t(1600000015), 7, 8);
  reg("/srv/back\\slash", "backslash\n", 0o644, t(1600000016, 16));
  reg("/srv/ünïcödé", "unicode\n", 0o644, t(1600000017));
  // Creating the device nodes must not touch their directories' times.
  expected.set("/dev", { type: "directory", perm: 0o755, uid: 0, gid: 0, mtime: t(1600000018) });
  expected.set("/run", { type: "directory", perm: 0o755, uid: 0, gid: 0, mtime: t(1600000019) });
  // Nodes made by debugfs keep the image's time (mknod stamps the build's), sub-second part included.
  expected.set("/dev/null", { type: "character special", perm: 0o666, uid: 0, gid: 0, rdev: [1, 3], mtime: t(1600000030, 500000000) });
  expected.set("/dev/sda", { type: "block special", perm: 0o660, uid: 0, gid: 6, rdev: [8, 0] });
  expected.set("/run/initctl", { type: "FIFO", perm: 0o600, uid: 5, gid: 5, mtime: t(1600000031) });
  return { image: { entries, metadata }, expected };
}
