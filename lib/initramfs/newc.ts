// Writes a cpio archive in the "newc" format the Linux kernel unpacks as an
// initramfs (Documentation/driver-api/early-userspace/buffer-format.rst), so
// the project needs no external cpio tool.

export type CpioEntry =
  | { type: "dir"; path: string; mode?: number }
  | { type: "file"; path: string; data: Uint8Array; mode?: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "chardev"; path: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const MAX_FIELD = 0xffffffff;

function hex8(value: number, what: string): string {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) {
    throw new RangeError(`cpio: ${what} ${value} does not fit a newc header field`);
  }
  return value.toString(16).padStart(8, "0");
}

function pad4(length: number): number {
  return (4 - (length % 4)) % 4;
}

function checkPath(path: string): string {
  // Member names are relative to the initramfs root; the kernel refuses
  // nothing, so refuse here what would be surprising.
  const clean = path.replace(/^\/+/, "");
  if (clean === "" || clean.split("/").some((part) => part === ".." || part === "")) {
    throw new Error(`cpio: bad member path ${JSON.stringify(path)}`);
  }
  return clean;
}

/** Builds the whole archive in memory: initramfs images here are small. */
export function writeNewc(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let inode = 1;

  const push = (name: string, mode: number, data: Uint8Array, rdev: [number, number] = [0, 0]) => {
    const nameBytes = Buffer.from(name + "\0", "utf8");
    const header =
      "070701" +
      hex8(inode++, "inode") +
      hex8(mode, "mode") +
      hex8(0, "uid") +
      hex8(0, "gid") +
      hex8(mode & S_IFDIR ? 2 : 1, "nlink") +
      hex8(0, "mtime") +
      hex8(data.length, "file size") +
      hex8(0, "dev major") +
      hex8(0, "dev minor") +
      hex8(rdev[0], "rdev major") +
      hex8(rdev[1], "rdev minor") +
      hex8(nameBytes.length, "name size") +
      hex8(0, "check");
    chunks.push(Buffer.from(header, "ascii"), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)));
    chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.alloc(pad4(data.length)));
  };

  for (const entry of entries) {
    const path = checkPath(entry.path);
    switch (entry.type) {
      case "dir":
        push(path, S_IFDIR | (entry.mode ?? 0o755), new Uint8Array());
        break;
      case "file":
        push(path, S_IFREG | (entry.mode ?? 0o644), entry.data);
        break;
      case "symlink":
        push(path, S_IFLNK | 0o777, Buffer.from(entry.target, "utf8"));
        break;
      case "chardev":
        push(path, S_IFCHR | (entry.mode ?? 0o600), new Uint8Array(), [entry.major, entry.minor]);
        break;
    }
  }
  inode = 0;
  push("TRAILER!!!", 0, new Uint8Array());
  return Buffer.concat(chunks);
}
