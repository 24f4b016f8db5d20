// What the tar format fixes, in one place for both ends: the header writer
// (tar-header.ts, which builds test and example images) and the layer reader
// (stages/unpack/tar-reader.ts).

/** Tar works in 512-byte blocks: headers are one, data is padded to whole ones. */
export const TAR_BLOCK = 512;

/** The entry types an image layer may hold. */
export type TarEntryType = "file" | "hardlink" | "symlink" | "chardev" | "blockdev" | "dir" | "fifo";

/** The ustar type flag each entry type is written with. */
export const TAR_TYPE_FLAGS: Readonly<Record<TarEntryType, string>> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  chardev: "3",
  blockdev: "4",
  dir: "5",
  fifo: "6",
};

/** Type flag → entry type when reading; old tars write a file as "\0", and "7" (contiguous) is a file too. */
export const TAR_TYPES_BY_FLAG: Readonly<Record<string, TarEntryType>> = {
  "\0": "file",
  "7": "file",
  ...Object.fromEntries(Object.entries(TAR_TYPE_FLAGS).map(([type, flag]) => [flag, type as TarEntryType])),
};
