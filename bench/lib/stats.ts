// The few statistics the benchmark table needs. Kept free of I/O so the unit
// test can check them on known inputs.

function nonEmpty(xs: readonly number[], what: string): void {
  if (xs.length === 0) throw new Error(`${what} of no samples`);
}

export function median(xs: readonly number[]): number {
  nonEmpty(xs, "median");
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function mean(xs: readonly number[]): number {
  nonEmpty(xs, "mean");
  return xs.reduce((sum, x) => sum + x, 0) / xs.length;
}

/** Sample standard deviation (n − 1 in the denominator); 0 for a single sample. */
export function standardDeviation(xs: readonly number[]): number {
  nonEmpty(xs, "standard deviation");
  if (xs.length === 1) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((sum, x) => sum + (x - m) ** 2, 0) / (xs.length - 1));
}

/** Coefficient of variation as a fraction (0.012 = 1.2 %): spread relative to the mean. */
export function coefficientOfVariation(xs: readonly number[]): number {
  const m = mean(xs);
  if (m === 0) return NaN;
  return standardDeviation(xs) / m;
}

/** ours / peer; NaN when either side is missing or the peer took no time. */
export function ratio(ours: number | undefined, peer: number | undefined): number {
  if (ours === undefined || peer === undefined || !Number.isFinite(ours) || !Number.isFinite(peer) || peer === 0) return NaN;
  return ours / peer;
}

/** Issue 8's steadiness rule: the VM's CV may exceed the host's by at most one percentage point. */
export const STEADINESS_ALLOWANCE = 0.01;

export function steadyEnough(hostCv: number, vmCv: number): boolean {
  return vmCv <= hostCv + STEADINESS_ALLOWANCE;
}
