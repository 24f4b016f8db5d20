// The guest kernel's function symbols, from `nm -n vmlinux`, to name the
// function a sampled RIP is in.

export interface KernelSymbols {
  /** The function containing `rip` (the nearest text symbol at or below it), or undefined below the first. */
  at(rip: bigint): string | undefined;
  readonly count: number;
}

/** Reads `nm -n` output: text symbols (t, T, w, W) in address order. */
export function parseNm(output: string): KernelSymbols {
  const addrs: bigint[] = [];
  const names: string[] = [];
  for (const line of output.split("\n")) {
    const m = /^([0-9a-f]+) ([tTwW]) (\S+)$/.exec(line.trim());
    if (!m) continue;
    addrs.push(BigInt("0x" + m[1]));
    names.push(m[3]);
  }
  for (let i = 1; i < addrs.length; i++) {
    if (addrs[i] < addrs[i - 1]) throw new Error(`nm output is not in address order at ${names[i]} (run nm -n)`);
  }
  return {
    count: addrs.length,
    at(rip: bigint): string | undefined {
      if (!addrs.length || rip < addrs[0]) return undefined;
      let lo = 0;
      let hi = addrs.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (addrs[mid] <= rip) lo = mid;
        else hi = mid - 1;
      }
      return names[lo];
    },
  };
}

/** Samples per function, most first, with their share. */
export function histogram(symbols: KernelSymbols, rips: readonly bigint[]): { name: string; samples: number; share: number }[] {
  const counts = new Map<string, number>();
  for (const rip of rips) {
    const name = symbols.at(rip) ?? `?${rip.toString(16)}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts]
    .map(([name, samples]) => ({ name, samples, share: samples / rips.length }))
    .sort((a, b) => b.samples - a.samples || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
