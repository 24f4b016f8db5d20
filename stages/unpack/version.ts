/**
 * Bump when unpack writes a different tree for the same image (a fix in
 * layer application, whiteouts, ownership, ...) or starts refusing trees it
 * used to write: root images in the cache are keyed by it, so images built by
 * the old code are not reused.
 * 2: layers are checked against the config's diff_ids; before, a layer could
 * differ from what the image ID promised, and its root image was cached
 * under that ID.
 * 3: device nodes and FIFOs keep the image's mtime (metadata.jsonl carries
 * it); before, mkrootfs stamped them with the build's clock, so one image
 * built twice gave two different root images.
 * 4: a whiteout or opaque marker keeps what its own layer wrote below it
 * (before, it removed it), and layers mkrootfs would refuse (an entry under
 * a device node, a PAX sparse file, out-of-range owners or device numbers)
 * are refused here.
 */
export const UNPACK_VERSION = 4;
