// Where a requested output file lands on the host: the guest path, made
// relative, under the output directory (/out/r.txt → <dir>/out/r.txt).
// Decided from the request alone (the guest only ever sends an index), and
// refused up front when it could leave the directory or collide with another.
import { posix } from "node:path";

/** The relative host path for a guest output path; throws a one-line error for a path that names no file. */
export function hostNameForOutput(guestPath: string): string {
  if (typeof guestPath !== "string" || !guestPath.startsWith("/")) throw new Error(`output path ${JSON.stringify(guestPath)} is not absolute`);
  if (guestPath.includes("\0")) throw new Error(`output path ${JSON.stringify(guestPath)} contains a NUL character`);
  if (guestPath.endsWith("/")) throw new Error(`output path ${JSON.stringify(guestPath)} names a directory, not a file`);
  // normalize() of an absolute path resolves every "..": nothing climbs above "/".
  const relative = posix.normalize(guestPath).replace(/^\/+/, "");
  const parts = relative.split("/");
  if (relative === "" || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new Error(`output path ${JSON.stringify(guestPath)} names no file`);
  }
  return relative;
}

/** Host names for all output paths; throws when two guest paths would land on one host file (or one inside another). */
export function hostNamesForOutputs(guestPaths: readonly string[]): string[] {
  const names = guestPaths.map(hostNameForOutput);
  const seen = new Map<string, string>();
  names.forEach((name, i) => {
    const previous = seen.get(name);
    if (previous !== undefined) throw new Error(`output paths ${JSON.stringify(previous)} and ${JSON.stringify(guestPaths[i])} are the same file`);
    seen.set(name, guestPaths[i]!);
  });
  for (const name of names) {
    // "/a" as a file and "/a/b" as a file cannot both exist on the host.
    const parent = names.find((other) => name.startsWith(other + "/"));
    if (parent !== undefined) throw new Error(`output path ${JSON.stringify("/" + name)} is inside output path ${JSON.stringify("/" + parent)}`);
  }
  return names;
}
