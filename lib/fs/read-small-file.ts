// Reading a small file from a hostile tree: opened without following a
// symlink, its size bounded before anything is allocated.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

export class FileTooLargeError extends Error {
  override name = "FileTooLargeError";
  constructor(readonly path: string, readonly size: number, readonly maxBytes: number) {
    super(`${path} is ${size} bytes, more than ${maxBytes}`);
  }
}

export class NotRegularFileError extends Error {
  override name = "NotRegularFileError";
  constructor(readonly path: string) {
    super(`${path} is not a regular file`);
  }
}

/**
 * The file's bytes; throws FileTooLargeError beyond `maxBytes`, ELOOP if
 * `path` is a symlink, and NotRegularFileError for anything but a regular
 * file (opened without blocking: a FIFO would otherwise wait for a writer
 * forever, and a device such as /dev/zero never end).
 */
export function readSmallFile(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(path);
    const size = st.size;
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
