// Reading a small file from a hostile tree: opened without following a
// symlink, its size bounded before anything is allocated.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

export class FileTooLargeError extends Error {
  override name = "FileTooLargeError";
  constructor(readonly path: string, readonly size: number, readonly maxBytes: number) {
    super(`${path} is ${size} bytes, more than ${maxBytes}`);
  }
}

/** The file's bytes; throws FileTooLargeError beyond `maxBytes`, and ELOOP if `path` is a symlink. */
export function readSmallFile(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw new FileTooLargeError(path, size, maxBytes);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
