// Reading a running process's memory from /proc: which process GNU time is
// waiting for, and how much of a VM's guest RAM is resident (so the VMM's own
// memory can be told apart from the guest's).
import { readFileSync } from "node:fs";

/** The first child of `pid` (the command GNU time runs), or `pid` itself when it has none. */
export function commandPid(pid: number): number {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return children.length ? Number(children[0]) : pid;
  } catch {
    return pid;
  }
}

/**
 * Resident KiB of the mapping that holds guest RAM: the largest-resident
 * mapping whose size is `guestMiB` (up to 8 MiB more, for alignment).
 * Undefined when the process is gone or no mapping fits.
 */
export function guestRamResidentKiB(pid: number, guestMiB: number): number | undefined {
  let smaps: string;
  try {
    smaps = readFileSync(`/proc/${pid}/smaps`, "utf8");
  } catch {
    return undefined;
  }
  return residentOfSizedMapping(smaps, guestMiB * 1024, guestMiB * 1024 + 8192);
}

/** From /proc/PID/smaps text: the largest Rss (KiB) among mappings of minKiB..maxKiB. */
export function residentOfSizedMapping(smaps: string, minKiB: number, maxKiB: number): number | undefined {
  let best: number | undefined;
  let size = -1;
  for (const line of smaps.split("\n")) {
    const field = /^(Size|Rss):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const kib = Number(field[2]);
    if (field[1] === "Size") size = kib;
    else if (size >= minKiB && size <= maxKiB) best = Math.max(best ?? 0, kib);
  }
  return best;
}
