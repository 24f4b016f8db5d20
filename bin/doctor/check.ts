// One doctor check's outcome: one line, and the fix when something is wrong.
// "n/a": the thing checked does not exist here (e.g. no cpufreq in a VM); it is reported, never failed.
export type CheckStatus = "ok" | "warn" | "fail" | "n/a";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or fail: for tuning, the exact command. */
  fix?: string;
  /** The current setting as the kernel shows it (tuning checks), null when it is not available. */
  value?: string | null;
}

const TAGS: Record<CheckStatus, string> = { ok: "ok  ", warn: "warn", fail: "FAIL", "n/a": "n/a " };

export function formatCheck(result: CheckResult): string {
  return `${TAGS[result.status]} ${result.name}: ${result.detail}${result.fix ? ` — fix: ${result.fix}` : ""}`;
}
