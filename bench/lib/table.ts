// Text output of the benchmarks: a Markdown pipe table (so the README can
// carry it as printed) and the unit formats used in its cells.

export type Align = "left" | "right";

/** A Markdown table with every column padded to its widest cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  for (const row of rows) {
    if (row.length !== headers.length) throw new Error(`table row has ${row.length} cells, the header ${headers.length}`);
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const pad = (cell: string, i: number) => (align[i] === "right" ? cell.padStart(widths[i]) : cell.padEnd(widths[i]));
  const line = (cells: readonly string[]) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (align[i] === "right" ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

/** Seconds with a unit that keeps three significant figures readable: "850 ms", "1.23 s", "74.2 s". */
export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "–";
  if (seconds < 0.001) return `${(seconds * 1e6).toFixed(0)} µs`;
  if (seconds < 1) return `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 0)} ms`;
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  return `${seconds.toFixed(1)} s`;
}

export function formatMiB(kib: number | undefined): string {
  if (kib === undefined || !Number.isFinite(kib)) return "–";
  const mib = kib / 1024;
  return `${mib < 10 ? mib.toFixed(1) : mib.toFixed(0)} MiB`;
}

export function formatRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return "–";
  return `${r.toFixed(2)}×`;
}

/** A fraction as a percentage: 0.0123 → "1.23 %". */
export function formatPercent(fraction: number | undefined): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return "–";
  return `${(fraction * 100).toFixed(2)} %`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(bytes % 2 ** 30 === 0 ? 0 : 1)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(bytes % 2 ** 20 === 0 ? 0 : 1)} MiB`;
  return `${(bytes / 1024).toFixed(0)} KiB`;
}
