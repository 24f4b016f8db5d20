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

/**
 * Whether the kernel would back the mapping starting at `addr` with huge
 * pages (THPeligible in /proc/self/smaps: it weighs the THP mode and our
 * madvise); undefined when smaps does not say. Works where /sys is hidden.
 */
export function thpEligible(addr: bigint, smaps?: string): boolean | undefined {
  let text = smaps;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/smaps", "latin1");
    } catch {
      return undefined;
    }
  }
  const start = text.indexOf(`\n${addr.toString(16)}-`);
  const at = start >= 0 ? start + 1 : text.startsWith(`${addr.toString(16)}-`) ? 0 : -1;
  if (at < 0) return undefined;
  const next = text.slice(at + 1).search(/\n[0-9a-f]+-[0-9a-f]+ /);
  const block = next < 0 ? text.slice(at) : text.slice(at, at + 1 + next);
  const m = /^THPeligible:\s+(\d)/m.exec(block);
  return m ? m[1] === "1" : undefined;
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

/**
 * The boot log's words on huge pages for guest RAM mapped at `ram.addr`:
 * asked for unless turned off or the host says "never". An unknown mode (no
 * /sys in the stage sandbox) is asked for too; THPeligible says what came of it.
 */
export function describeHugePages(wanted: boolean, mode: ThpMode | undefined, ram: { addr: bigint; hugePages: boolean; hugePagesRefused?: string }, smaps?: string): { text: string; used: boolean } {
  if (!wanted) return { text: "not used (turned off)", used: false };
  if (mode === "never") return { text: "not used (host mode never)", used: false };
  if (!ram.hugePages) return { text: `MADV_HUGEPAGE refused: ${ram.hugePagesRefused ?? "unknown reason"}`, used: false };
  const eligible = thpEligible(ram.addr, smaps);
  return {
    text: `MADV_HUGEPAGE (host mode ${mode ?? "unknown"}, THPeligible ${eligible === undefined ? "unknown" : eligible ? 1 : 0})`,
    used: eligible !== false,
  };
}
