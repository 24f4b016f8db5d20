// Paths inside the image as they appear in metadata.jsonl and in the scripts we
// hand to debugfs and mksquashfs. Both tools read one command per line, and
// both can touch host files (debugfs `write`/`dump`, mksquashfs `f` runs a
// command), so a path that could end a line must never reach them.

/** Bytes that may not appear in a path we put in a tool script: C0 controls and DEL. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks an absolute, normalised image path ("/", "/usr/bin/x"); returns a
 * reason it is unusable or null when it is fine.
 */
export function imagePathProblem(path: string): string | null {
  if (!path.startsWith("/")) return "is not absolute";
  if (CONTROL.test(path)) return "contains a control character";
  if (path === "/") return null;
  if (path.endsWith("/")) return "ends with /";
  if (Buffer.byteLength(path) > 4095) return "is longer than 4095 bytes";
  for (const part of path.slice(1).split("/")) {
    if (part === "") return "has an empty component (//)";
    if (part === "." || part === "..") return `has a "${part}" component`;
    if (Buffer.byteLength(part) > 255) return "has a component longer than 255 bytes";
  }
  return null;
}

/** True when a path can be written into a debugfs or mksquashfs script line safely. */
export function isScriptSafe(path: string): boolean {
  return !CONTROL.test(path);
}

/** "/usr/bin/x" → ["/usr/bin", "x"]; "/x" → ["/", "x"]. */
export function splitParent(path: string): [string, string] {
  const slash = path.lastIndexOf("/");
  return [slash === 0 ? "/" : path.slice(0, slash), path.slice(slash + 1)];
}
