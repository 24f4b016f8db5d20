// Turns suite results into the printed tables and the --json document.
import { median, ratio } from "./stats.js";
import type { ComparisonRow, Side, SmallTable } from "./suite.js";
import { formatMiB, formatRatio, formatSeconds, formatTable } from "./table.js";

export interface SideSummary {
  label: string;
  runs: number;
  medianSeconds: number;
  /** The largest peak over the runs, KiB. */
  peakKiB?: number;
  seconds: number[];
}

export interface RowSummary {
  benchmark: string;
  ours?: SideSummary;
  peer?: SideSummary;
  /** median(ours) / median(peer). */
  ratio?: number;
  skipped?: string;
}

export function summarizeSide(side: Side): SideSummary | undefined {
  if (side.samples.length === 0) return undefined;
  const peaks = side.samples.map((s) => s.peakKiB).filter((p): p is number => p !== undefined);
  return {
    label: side.label,
    runs: side.samples.length,
    medianSeconds: median(side.samples.map((s) => s.seconds)),
    ...(peaks.length ? { peakKiB: Math.max(...peaks) } : {}),
    seconds: side.samples.map((s) => s.seconds),
  };
}

export function summarizeRow(row: ComparisonRow): RowSummary {
  const ours = row.ours ? summarizeSide(row.ours) : undefined;
  const peer = row.peer ? summarizeSide(row.peer) : undefined;
  const r = ratio(ours?.medianSeconds, peer?.medianSeconds);
  return {
    benchmark: row.benchmark,
    ...(ours ? { ours } : {}),
    ...(peer ? { peer } : {}),
    ...(Number.isFinite(r) ? { ratio: r } : {}),
    ...(row.skipped ? { skipped: row.skipped } : {}),
  };
}

export const MAIN_HEADERS = ["benchmark", "bencher-run", "median", "peak RSS", "peer", "median", "peak RSS", "ours/peer", "runs"];
const MAIN_ALIGN = ["left", "left", "right", "right", "left", "right", "right", "right", "right"] as const;

export function mainTableRows(rows: readonly RowSummary[]): string[][] {
  return rows.map((r) => {
    if (r.skipped && !r.ours) return [r.benchmark, r.skipped, "", "", "", "", "", "", ""];
    const runs = [r.ours?.runs, r.peer?.runs].filter((n) => n !== undefined).join("/");
    return [
      r.benchmark,
      r.ours?.label ?? "–", formatSeconds(r.ours?.medianSeconds), formatMiB(r.ours?.peakKiB),
      r.peer?.label ?? "–", formatSeconds(r.peer?.medianSeconds), formatMiB(r.peer?.peakKiB),
      formatRatio(r.ratio), runs,
    ];
  });
}

export function formatMainTable(rows: readonly RowSummary[]): string {
  return formatTable(MAIN_HEADERS, mainTableRows(rows), MAIN_ALIGN);
}

export function formatSmallTable(table: SmallTable): string {
  return `${table.title}\n\n${formatTable(table.headers, table.rows, table.headers.map((_, i) => (i === 0 ? "left" : "right")))}`;
}
