// Removes a directory tree a stage wrote. A stage may leave directories
// without write permission (an image's read-only /usr, say); an ordinary
// user cannot delete inside those until it gives itself the permission back.
import { chmodSync, lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";

export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM" && code !== "ENOTEMPTY") throw err;
  }
  makeDirsWritable(path);
  rmSync(path, { recursive: true, force: true });
}

function makeDirsWritable(path: string): void {
  let stat;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isDirectory()) return;
  try {
    chmodSync(path, 0o700);
  } catch {
    // Not ours: rmSync will report it.
  }
  for (const name of readdirSync(path)) makeDirsWritable(join(path, name));
}
