// The memory several process trees hold together: the sum of the resident
// sets of the given processes and all their descendants, sampled, at its
// peak. (Each process's own peak, from GNU time, says nothing about how much
// N pipelines at once need.)
import { readdirSync, readFileSync } from "node:fs";

export interface ProcEntry {
  ppid: number;
  rssKiB: number;
}

function readProcesses(): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      table.set(Number(name), { ppid, rssKiB });
    } catch {
      // exited while we looked
    }
  }
  return table;
}

/** Sum of VmRSS over `roots` and every descendant, KiB. */
export function treeResidentKiB(roots: readonly number[], table = readProcesses()): number {
  const children = new Map<number, number[]>();
  for (const [pid, e] of table) children.set(e.ppid, [...(children.get(e.ppid) ?? []), pid]);
  let sum = 0;
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    sum += table.get(pid)?.rssKiB ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return sum;
}

/** Samples every `intervalMs` until the returned function is called; it gives the peak sum, KiB. */
export function watchTreeMemory(roots: () => readonly number[], intervalMs = 200): () => number {
  let peak = 0;
  const sample = () => (peak = Math.max(peak, treeResidentKiB(roots())));
  const timer = setInterval(sample, intervalMs);
  return () => {
    clearInterval(timer);
    return peak;
  };
}
