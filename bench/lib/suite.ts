// What a benchmark suite is and what it reports. run.ts runs the suites in
// order and prints every ComparisonRow in one table, then each suite's own
// small tables (steadiness, growth) and notes.

/** One timed run of one side. */
export interface Sample {
  seconds: number;
  /** Peak resident memory of the process, KiB. */
  peakKiB?: number;
}

export interface Side {
  /** What ran: "bencher-run unpack", "umoci unpack --rootless", … */
  label: string;
  samples: Sample[];
}

/** One line of the main table: our side beside its peer, or why it did not run. */
export interface ComparisonRow {
  benchmark: string;
  ours?: Side;
  peer?: Side;
  /** Set when the row could not run: "skipped: pipeline not available", "failed: …". */
  skipped?: string;
}

export interface SmallTable {
  title: string;
  headers: string[];
  rows: string[][];
  /** The same figures, unformatted, for --json. */
  data: unknown;
}

export interface SuiteResult {
  rows: ComparisonRow[];
  tables: SmallTable[];
  notes: string[];
}

export interface BenchContext {
  quick: boolean;
  /** Runs per side for the medians. */
  runs: number;
  /** Scratch directory of this invocation, removed at the end (unless --keep). */
  work: string;
  /**
   * Asks for `count` guest boots: undefined when granted (taken from the
   * budget), else the row's "skipped: …" reason, and nothing taken: no
   * usable /dev/kvm here, or over the --quick budget.
   */
  bootsDenied(count: number): string | undefined;
  /** Progress for the person watching (stderr). */
  log(message: string): void;
  /** Figures one suite leaves for a later one (e.g. QEMU's boot time for the end-to-end peer). */
  shared: Map<string, unknown>;
}

export interface Suite {
  name: string;
  run(ctx: BenchContext): Promise<SuiteResult>;
}

export function emptyResult(): SuiteResult {
  return { rows: [], tables: [], notes: [] };
}

/** The one-line reason a row did not run, from an error. */
export function failedRow(benchmark: string, err: unknown): ComparisonRow {
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0];
  return { benchmark, skipped: `failed: ${message}` };
}
