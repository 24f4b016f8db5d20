// Whether the host can back the guest RAM asked for, and whether it offers
// transparent huge pages for it. Guest RAM is mapped with
// MAP_NORESERVE and filled in as the guest touches it, so a VM larger than the
// host's free memory would start and then be killed mid-run by the OOM
// killer: refuse it up front instead, with a one-line reason.
import { readFileSync } from "node:fs";

/** MemAvailable from /proc/meminfo (or the text given), in MiB; undefined when it cannot be read. */
export function availableHostMiB(meminfo?: string): number | undefined {
  let text = meminfo;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/meminfo", "latin1");
    } catch {
      return undefined;
    }
  }
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(text);
  return m ? Math.floor(Number(m[1]) / 1024) : undefined;
}

/** Why `memoryMiB` of guest RAM cannot be backed, or undefined when it can (or the host will not say). */
export function memoryProblem(memoryMiB: number, availableMiB: number | undefined): string | undefined {
  if (availableMiB === undefined || memoryMiB <= availableMiB) return undefined;
  return `${memoryMiB} MiB cannot be backed: the host has ${availableMiB} MiB available (MemAvailable in /proc/meminfo)`;
}

export type ThpMode = "always" | "madvise" | "never";

/** The host's transparent huge page mode (the bracketed word of .../transparent_hugepage/enabled), or undefined. */
export function transparentHugePages(setting?: string): ThpMode | undefined {
  let text = setting;
  if (text === undefined) {
    try {
      text = readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "latin1");
    } catch {
      return undefined;
    }
  }
  const m = /\[(always|madvise|never)\]/.exec(text);
  return m ? (m[1] as ThpMode) : undefined;
}
