/**
 * Bump when unpack writes a different tree for the same image (a fix in
 * layer application, whiteouts, ownership, ...) or starts refusing trees it
 * used to write: root images in the cache are keyed by it, so images built by
 * the old code are not reused.
 * 2: layers are checked against the config's diff_ids; before, a layer could
 * differ from what the image ID promised, and its root image was cached
 * under that ID.
 */
export const UNPACK_VERSION = 2;
