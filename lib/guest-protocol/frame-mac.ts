// The MAC that authenticates a guest frame (PROTOCOL.md, "Frames"):
// HMAC-SHA256 under the run key over everything before it (length, type,
// seq, payload). guest-init computes it in C (hmac_sha256.c); the host
// verifies it with this, and tests sign hand-made frames with it.
import { createHmac } from "node:crypto";

export function guestFrameMac(key: Uint8Array, signed: Uint8Array): Buffer {
  return createHmac("sha256", key).update(signed).digest();
}
