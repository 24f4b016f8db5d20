// Random access to a kernel or initramfs image: bytes already in memory, or a
// file read piece by piece. The file form lets the loader read an ELF
// vmlinux's segments straight into guest RAM: no copy of the whole file
// (17 MB, of which 11 MB are loaded) in the VMM's heap first.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface ImageReader {
  /** Used in errors ("kernel", "initramfs"). */
  readonly what: string;
  readonly size: number;
  /** Fills `into` with the bytes at `offset`; throws if the image ends first. */
  read(offset: number, into: Uint8Array): void;
}

/** Throws unless [offset, offset+length) lies inside an image of `size` bytes; `name` says which image. */
function checkRange(name: string, offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > size) {
    throw new Error(`${name}: ${length} bytes at offset ${offset} lie outside its ${size} bytes`);
  }
}

export function bufferReader(bytes: Uint8Array, what: string): ImageReader {
  return {
    what,
    size: bytes.length,
    read(offset, into) {
      checkRange(what, offset, into.length, bytes.length);
      into.set(bytes.subarray(offset, offset + into.length));
    },
  };
}

/** A regular file's reader, and closing it (once; later calls do nothing). Its `what`, and so its errors, name `what` and the path. */
export function openFileReader(path: string, what: string): ImageReader & { close(): void } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new Error(`${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${what} ${path}: not a regular file`);
    const size = stat.size;
    let open = true;
    return {
      what: `${what} ${path}`,
      size,
      read(offset, into) {
        if (!open) throw new Error(`${what} ${path}: read after close`);
        checkRange(`${what} ${path}`, offset, into.length, size);
        for (let done = 0; done < into.length;) {
          const n = readSync(fd, into, done, into.length - done, offset + done);
          // The file shrank since it was opened.
          if (n === 0) throw new Error(`${what} ${path}: ended at ${offset + done} bytes, before the ${size} it had when opened`);
          done += n;
        }
      },
      close() {
        // Twice would close whatever descriptor took this number meanwhile.
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** All of an image's bytes (a bzImage must be unpacked whole). */
export function readAll(image: ImageReader): Uint8Array {
  const bytes = new Uint8Array(image.size);
  image.read(0, bytes);
  return bytes;
}
