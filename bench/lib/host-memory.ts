// Memory in use on the whole host (MemTotal − MemAvailable), sampled while
// several pipelines run at once: their processes' sum, plus the page cache
// they pin, which no single process's RSS shows.
import { readFileSync } from "node:fs";

export function hostMemoryInUseKiB(): number {
  const info = readFileSync("/proc/meminfo", "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(info)?.[1] ?? NaN);
  return field("MemTotal") - field("MemAvailable");
}

/** Starts sampling; the returned function stops and gives the peak rise above the level at the start, KiB. */
export function watchHostMemory(intervalMs = 100): () => number {
  const baseline = hostMemoryInUseKiB();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, hostMemoryInUseKiB())), intervalMs);
  return () => {
    clearInterval(timer);
    peak = Math.max(peak, hostMemoryInUseKiB());
    return Math.max(0, peak - baseline);
  };
}
