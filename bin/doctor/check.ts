// One doctor check's outcome: one line, and the fix when something is wrong.
export type CheckStatus = "ok" | "warn" | "fail";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export function formatCheck(result: CheckResult): string {
  const tag = result.status === "ok" ? "ok  " : result.status === "warn" ? "warn" : "FAIL";
  return `${tag} ${result.name}: ${result.detail}${result.fix ? ` — fix: ${result.fix}` : ""}`;
}
