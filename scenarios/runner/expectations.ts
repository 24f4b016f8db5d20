// Compares what a pipeline run produced with what its scenario expects.
// Returns every mismatch (empty: the scenario passed), each one line.
import { createHash } from "node:crypto";
import type { PipelineResult } from "../../bin/pipeline-run.js";
import type { BytesExpectation, Expectations } from "./scenario.js";

/** What the run ended in: a result, or the runner's refusal before a VM ran. */
export type RunOutcome = { result: PipelineResult } | { error: string };

function preview(bytes: Buffer): string {
  const text = bytes.toString("utf8");
  const shown = text.length > 200 ? `${text.slice(0, 200)}… (${bytes.length} bytes)` : text;
  return JSON.stringify(shown);
}

export function checkBytes(what: string, bytes: Buffer, e: BytesExpectation): string[] {
  const problems: string[] = [];
  const text = bytes.toString("utf8");
  if (e.equals !== undefined && text !== e.equals) problems.push(`${what}: expected ${JSON.stringify(e.equals)}, got ${preview(bytes)}`);
  for (const part of e.contains ?? []) if (!text.includes(part)) problems.push(`${what}: does not contain ${JSON.stringify(part)}: ${preview(bytes)}`);
  for (const part of e.notContains ?? []) if (text.includes(part)) problems.push(`${what}: contains ${JSON.stringify(part)}: ${preview(bytes)}`);
  if (e.matches !== undefined && !new RegExp(e.matches).test(text)) problems.push(`${what}: does not match /${e.matches}/: ${preview(bytes)}`);
  if (e.base64 !== undefined && !bytes.equals(Buffer.from(e.base64, "base64"))) problems.push(`${what}: bytes differ from the expected base64 (got ${bytes.toString("base64").slice(0, 80)})`);
  if (e.bytes !== undefined && bytes.length !== e.bytes) problems.push(`${what}: expected ${e.bytes} bytes, got ${bytes.length}`);
  if (e.sha256 !== undefined) {
    const sum = createHash("sha256").update(bytes).digest("hex");
    if (sum !== e.sha256) problems.push(`${what}: sha256 ${sum}, expected ${e.sha256}`);
  }
  return problems;
}

export function checkExpectations(expect: Expectations, outcome: RunOutcome): string[] {
  if ("error" in outcome) {
    if (!expect.error) return [`the runner failed: ${outcome.error}`];
    return checkBytes("runner error", Buffer.from(outcome.error), expect.error);
  }
  const r = outcome.result;
  const problems: string[] = [];
  if (expect.error) {
    if (r.error === undefined) problems.push(`expected a runner failure, but the run ended with status ${r.status}`);
    else problems.push(...checkBytes("runner error", Buffer.from(r.error), expect.error));
    return problems;
  }
  if (r.error !== undefined) problems.push(`the runner failed: ${r.error}${r.vm?.consoleTail ? `; console tail: ${r.vm.consoleTail.slice(-600)}` : ""}`);
  const same = (what: string, got: unknown, want: unknown) => {
    if (want !== undefined && got !== want) problems.push(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  };
  same("status", r.status, expect.status);
  same("exitCode", r.exitCode, expect.exitCode);
  same("signal", r.signal, expect.signal);
  same("timedOut", r.timedOut, expect.timedOut);
  same("truncated.stdout", r.truncated.stdout, expect.truncated?.stdout);
  same("truncated.stderr", r.truncated.stderr, expect.truncated?.stderr);
  if (expect.stdout) problems.push(...checkBytes("stdout", r.stdout, expect.stdout));
  if (expect.stderr) problems.push(...checkBytes("stderr", r.stderr, expect.stderr));
  if (expect.guestError) {
    if (r.guestError === null) problems.push("guestError: expected the guest to report why it could not run the command; it reported nothing");
    else problems.push(...checkBytes("guestError", Buffer.from(r.guestError), expect.guestError));
  }
  for (const [path, e] of Object.entries(expect.outputs ?? {})) {
    const got = r.outputs[path];
    if (e === null) {
      if (got !== null && got !== undefined) problems.push(`output ${path}: expected none, got ${preview(got)}`);
    } else if (got === null || got === undefined) {
      problems.push(`output ${path}: did not come back`);
    } else {
      problems.push(...checkBytes(`output ${path}`, got, e));
    }
  }
  return problems;
}
