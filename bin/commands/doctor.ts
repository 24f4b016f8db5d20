// bencher-run doctor: can a run work on this machine? One line per check,
// with the fix; exit status 0 when nothing failed.
import { defineCommand } from "citty";
import { defaultWorkRoot } from "../../lib/workdir/work-root.js";
import { formatCheck, type CheckResult } from "../doctor/check.js";
import { checkKvm } from "../doctor/kvm-check.js";
import { checkMkfs } from "../doctor/tools-check.js";
import { checkUserNamespaces } from "../doctor/userns-check.js";
import { checkKernel, checkGuestInit } from "../doctor/guest-artifacts.js";
import { checkFreeDisk } from "../doctor/disk-check.js";

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

export default defineCommand({
  meta: { name: "doctor", description: "Check that this machine can run benchmarks (KVM, mkfs.ext4, user namespaces, guest kernel, guest-init, disk)" },
  args: {
    workdir: { type: "string", description: "Work directory root to check for free space", valueHint: "dir" },
    json: { type: "boolean", description: "Print the checks as JSON" },
  },
  async run({ args }) {
    const results = await runChecks(args.workdir ?? defaultWorkRoot());
    const ok = results.every((r) => r.status !== "fail");
    if (args.json) process.stdout.write(JSON.stringify({ ok, checks: results }) + "\n");
    else for (const r of results) process.stdout.write(formatCheck(r) + "\n");
    if (!ok) process.exitCode = 1;
  },
});
