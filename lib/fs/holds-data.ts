// Whether a file holds any data, as the kernel's SEEK_DATA says. A file the
// host allocated no blocks for is either all holes (a sparse file) or data
// kept in its inode (ext4's inline_data; some network and FUSE file systems
// report no blocks at all): only SEEK_DATA tells them apart. A file system
// that cannot say makes the kernel call the whole file data, and so does any
// error here: the safe answer, for a caller sizing a disk.
import { closeSync, constants, openSync } from "node:fs";
import { lastErrno, libc } from "../native/libc.js";

const SEEK_DATA = 3;
const ENXIO = 6;

type Lseek = (fd: number, offset: number, whence: number) => number | bigint;
let lseek: Lseek | undefined;

export function holdsData(path: string | Buffer): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return true;
  }
  try {
    lseek ??= libc().func("int64_t lseek(int fd, int64_t offset, int whence)") as unknown as Lseek;
    // ENXIO: no data at or after offset 0, so none at all.
    return !(Number(lseek(fd, 0, SEEK_DATA)) < 0 && lastErrno() === ENXIO);
  } finally {
    closeSync(fd);
  }
}
