// Host tools the stages run.
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import type { CheckResult } from "./check.js";

const SEARCH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

export function findTool(name: string, dirs = SEARCH): string | null {
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // Not here.
    }
  }
  return null;
}

export function checkMkfs(): CheckResult {
  const path = findTool("mkfs.ext4");
  if (path) return { name: "mkfs.ext4", status: "ok", detail: path };
  return { name: "mkfs.ext4", status: "fail", detail: "not found", fix: "sudo apt-get install e2fsprogs" };
}
