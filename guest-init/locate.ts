// Finds the guest-init binary for the current sources, building it on first use.
import { existsSync } from "node:fs";
import { buildGuestInit, guestInitPath } from "./build.js";

/** Path of the static guest-init binary; builds it if missing. Throws a one-line error saying how to fix a failed build. */
export function locateGuestInit(): string {
  const path = guestInitPath();
  return existsSync(path) ? path : buildGuestInit();
}
