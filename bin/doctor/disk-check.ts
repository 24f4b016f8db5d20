// Free disk where run work directories go (the unpacked image, its ext4
// image and the VM's overlay all land there).
import { existsSync, statfsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type { CheckResult } from "./check.js";
import { formatBytes } from "../cli/format-bytes.js";

export const MIN_FREE_BYTES = 1024 ** 3;
export const WARN_FREE_BYTES = 5 * 1024 ** 3;

export function checkFreeDisk(workRoot: string, minBytes = MIN_FREE_BYTES, warnBytes = WARN_FREE_BYTES): CheckResult {
  const name = "free disk";
  // The work root may not exist yet: measure the nearest existing parent.
  let dir = workRoot;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) {
    return { name, status: "fail", detail: `${workRoot}: ${dir} is not a directory`, fix: "point --workdir / BENCHER_RUN_WORKDIR at a directory" };
  }
  const stats = statfsSync(dir);
  const free = Number(stats.bavail) * Number(stats.bsize);
  const detail = `${formatBytes(free)} free in ${workRoot}${dir === workRoot ? "" : ` (made on the first run, in ${dir})`}`;
  if (free < minBytes) return { name, status: "fail", detail, fix: `free space, or point --workdir / BENCHER_RUN_WORKDIR at a disk with at least ${formatBytes(minBytes)}` };
  if (free < warnBytes) return { name, status: "warn", detail, fix: `large images need more; ${formatBytes(warnBytes)} or more is comfortable` };
  return { name, status: "ok", detail };
}
