// Host CPU lists as Linux writes them (taskset -c, cpuset, /sys/.../online):
// "1", "2-3", "0,2-3". Parsing keeps the order written, since vCPU i goes to
// the i-th CPU of the list; a CPU named twice is refused as a likely typo.

/** CPU numbers accepted at all (Linux's largest NR_CPUS is 8192). */
export const MAX_CPU = 8191;

/** A malformed list; the message says what is wrong, without naming the flag (callers add it). */
export class CpuListError extends Error {
  override name = "CpuListError";
}

/** "1,3" → [1, 3]; "2-3" → [2, 3]. Throws CpuListError. */
export function parseCpuList(text: string): number[] {
  if (typeof text !== "string" || text.trim() === "") throw new CpuListError("expected a CPU list such as 1, 2-3 or 1,3");
  const cpus: number[] = [];
  const seen = new Set<number>();
  for (const item of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) throw new CpuListError(`${JSON.stringify(item)} is not a CPU number or range (expected a CPU list such as 1, 2-3 or 1,3)`);
    const first = cpuNumber(m[1]);
    const last = m[2] === undefined ? first : cpuNumber(m[2]);
    if (last < first) throw new CpuListError(`range ${item} runs backwards`);
    for (let cpu = first; cpu <= last; cpu++) {
      if (seen.has(cpu)) throw new CpuListError(`CPU ${cpu} is listed twice`);
      seen.add(cpu);
      cpus.push(cpu);
    }
  }
  return cpus;
}

function cpuNumber(digits: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n) || n > MAX_CPU) throw new CpuListError(`CPU ${digits} is beyond the largest CPU number Linux supports (${MAX_CPU})`);
  return n;
}

/** [0, 1, 2, 5] → "0-2,5" (sorted, runs folded), as /proc shows Cpus_allowed_list. */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}
