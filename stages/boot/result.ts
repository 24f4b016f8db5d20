// The boot stage's result, checked by the coordinator: the stage runs a
// hostile guest and may be compromised, so every field is checked and the
// guest's text reaches no terminal with its control characters.
import { array, boolean, guestText, oneOf, resultFail, resultObject, wholeNumber, type Raw } from "../../lib/ipc/result-fields.js";
import type { BootResult } from "./boot.js";
import type { ExitReason } from "./machine.js";

const EXIT_REASONS: readonly ExitReason[] = ["power-off", "reset", "triple-fault", "timeout", "aborted", "internal-error", "vmm-error"];

function cpuList(raw: Raw, field: string): number[] {
  return array(raw, field, 4096).map((v, i) => {
    const name = `pinning.${field}[${i}]`;
    return wholeNumber({ [name]: v }, name, 0, 65535);
  });
}

/** `consoleLog`: the console log the request named, if any: the result may name only that. */
export function parseBootResult(raw: unknown, consoleLog?: string): BootResult {
  const r = resultObject(raw);
  const assistsRaw = resultObject(r.assists, "assists");
  const assists: Record<string, number> = {};
  for (const [name, count] of Object.entries(assistsRaw)) {
    if (!/^[A-Za-z0-9_. -]{1,64}$/.test(name)) resultFail("assists", "names must be short words");
    assists[name] = wholeNumber(assistsRaw, name);
  }
  const result: BootResult = {
    exitReason: oneOf(r, "exitReason", EXIT_REASONS),
    wallMs: wholeNumber(r, "wallMs"),
    startupMs: wholeNumber(r, "startupMs"),
    assists,
  };
  const optionalMs = (field: "bootMs" | "heldMs") => {
    if (r[field] !== undefined) result[field] = wholeNumber(r, field);
  };
  optionalMs("bootMs");
  optionalMs("heldMs");
  if (r.detail !== undefined) result.detail = guestText(r, "detail", 4096);
  if (r.consoleLog !== undefined) {
    if (consoleLog === undefined || r.consoleLog !== consoleLog) resultFail("consoleLog", consoleLog === undefined ? "must be absent (none was asked for)" : `must be ${consoleLog}`);
    result.consoleLog = consoleLog;
  }
  if (r.consoleLogCut !== undefined) result.consoleLogCut = boolean(r, "consoleLogCut");
  if (r.consoleTail !== undefined) result.consoleTail = guestText(r, "consoleTail", 65536);
  if (r.panic !== undefined) result.panic = guestText(r, "panic", 65536);
  if (r.pinning !== undefined) {
    const p = resultObject(r.pinning, "pinning");
    result.pinning = { vcpuCpus: cpuList(p, "vcpuCpus"), vmmCpus: p.vmmCpus === null ? null : cpuList(p, "vmmCpus") };
  }
  return result;
}
