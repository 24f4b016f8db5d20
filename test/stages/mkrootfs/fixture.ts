// Test helper: writes an unpacked image directory (rootfs/, metadata.jsonl,
// config.json) as unpack would, from a short description.
import { execFileSync } from "node:child_process";
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";

export type FixtureEntry =
  | { path: string; type: "dir"; mode?: number; mtime?: Time }
  | { path: string; type: "file"; content: string | Buffer; mode?: number; mtime?: Time }
  | { path: string; type: "symlink"; target: string; mtime?: Time }
  | { path: string; type: "hardlink"; target: string };

/** Seconds and nanoseconds since the epoch. */
export interface Time {
  sec: number;
  nsec?: number;
}

export interface FixtureImage {
  entries: FixtureEntry[];
  /** Lines of metadata.jsonl: objects are JSON-encoded, strings written as they are. */
  metadata?: (object | string)[];
  /** Defaults to a digest derived from the entries. */
  digest?: string;
}

const created: string[] = [];
// Tests leave nothing behind: every temp dir goes when the test process ends.
process.on("exit", () => {
  for (const dir of created) rmSync(dir, { recursive: true, force: true });
});

/** A new temp directory, removed when the process exits. */
export function tempDir(prefix = "mkrootfs-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

/** Writes the image under a new directory (or `dir`) and returns that directory. */
export function makeUnpackedImage(image: FixtureImage, dir = tempDir()): string {
  const rootfs = join(dir, "rootfs");
  mkdirSync(rootfs, { recursive: true });
  const times: [string, Time][] = [];
  for (const entry of image.entries) {
    const host = join(rootfs, entry.path);
    if (entry.path !== "/") mkdirSync(dirname(host), { recursive: true });
    switch (entry.type) {
      case "dir":
        mkdirSync(host, { recursive: true });
        break;
      case "file":
        writeFileSync(host, entry.content);
        break;
      case "symlink":
        symlinkSync(entry.target, host);
        break;
      case "hardlink":
        linkSync(join(rootfs, entry.target), host);
        break;
    }
    if ((entry.type === "dir" || entry.type === "file") && entry.mode !== undefined) chmodSync(host, entry.mode);
    if (entry.type !== "hardlink" && entry.mtime) times.push([host, entry.mtime]);
  }
  // Directories last and deepest first: setting a child's time touches nothing, writing into a dir does.
  times.sort((a, b) => b[0].length - a[0].length);
  for (const [host, time] of times) setTime(host, time);

  const lines = (image.metadata ?? []).map((line) => (typeof line === "string" ? line : JSON.stringify(line)));
  writeFileSync(join(dir, "metadata.jsonl"), lines.length > 0 ? lines.join("\n") + "\n" : "");
  const digest = image.digest ?? fixtureDigest(image);
  writeFileSync(join(dir, "config.json"), JSON.stringify({ digest, env: [], workingDir: "/", entrypoint: null, cmd: ["/bin/sh"], user: "", platform: "linux/amd64" }));
  return dir;
}

/** A digest that changes with the fixture's content (stands in for the image digest unpack reads from the manifest). */
function fixtureDigest(image: FixtureImage): string {
  const hash = createHash("sha256");
  for (const entry of image.entries) {
    const { content, ...rest } = entry as FixtureEntry & { content?: string | Buffer };
    hash.update(JSON.stringify(rest));
    if (content !== undefined) hash.update(content);
  }
  hash.update(JSON.stringify(image.metadata ?? []));
  return `sha256:${hash.digest("hex")}`;
}

/** Nanosecond-exact mtime (Node's utimes takes a double and would round). */
export function setTime(path: string, time: Time): void {
  const stamp = `@${time.sec}.${String(time.nsec ?? 0).padStart(9, "0")}`;
  execFileSync("touch", ["-h", "-m", "-d", stamp, path]);
}

/** Where a test's image goes: a new file in a directory of its own, removed with the test's temp dirs. */
export function imageOut(): string {
  return join(tempDir("mkrootfs-out-"), "image");
}
