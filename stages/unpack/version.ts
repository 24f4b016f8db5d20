/**
 * Bump when unpack writes a different tree for the same image (a fix in
 * layer application, whiteouts, ownership, ...): root images in the cache
 * are keyed by it, so images built by the old code are not reused.
 */
export const UNPACK_VERSION = 1;
