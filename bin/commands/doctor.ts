// bencher-run doctor: can a run work on this machine? One line per check,
// with the fix; exit status 0 when nothing failed. Then the host's tuning for
// steady benchmarks: advice with the command to change each setting, which
// never changes the exit status.
import { defineCommand } from "citty";
import { resolve } from "node:path";
import { CommandLineError } from "../cli/command-error.js";
import { defaultWorkRoot } from "../../lib/workdir/work-root.js";
import { formatCheck, type CheckResult } from "../doctor/check.js";
import { checkKvm } from "../doctor/kvm-check.js";
import { checkMkfs } from "../doctor/tools-check.js";
import { checkUserNamespaces } from "../doctor/userns-check.js";
import { checkKernel, checkGuestInit } from "../doctor/guest-artifacts.js";
import { checkFreeDisk } from "../doctor/disk-check.js";
import { tuningChecks } from "../doctor/tuning-checks.js";

export async function runChecks(workRoot: string): Promise<CheckResult[]> {
  return [
    checkKvm(),
    checkMkfs(),
    await checkUserNamespaces(),
    checkKernel(),
    checkGuestInit(),
    checkFreeDisk(workRoot),
  ];
}

export const TUNING_HEADING = "tuning for steady benchmarks (advice: never a failure):";

export default defineCommand({
  meta: { name: "doctor", description: "Check that this machine can run benchmarks (KVM, mkfs.ext4, user namespaces, guest kernel, guest-init, disk), and advise on host tuning for steady timings" },
  args: {
    workdir: { type: "string", description: "Work directory root to check for free space", valueHint: "dir" },
    json: { type: "boolean", description: "Print the checks as JSON" },
  },
  async run({ args }) {
    if (args.workdir === "") throw new CommandLineError("--workdir: empty path");
    const results = await runChecks(resolve(args.workdir ?? defaultWorkRoot()));
    const tuning = tuningChecks();
    const ok = results.every((r) => r.status !== "fail");
    if (args.json) process.stdout.write(JSON.stringify({ ok, checks: results, tuning }) + "\n");
    else {
      for (const r of results) process.stdout.write(formatCheck(r) + "\n");
      process.stdout.write(`${TUNING_HEADING}\n`);
      for (const r of tuning) process.stdout.write(formatCheck(r) + "\n");
    }
    if (!ok) process.exitCode = 1;
  },
});
