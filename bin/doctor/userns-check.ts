// Can stages be sandboxed: start a real sandbox running `true`. When that
// fails, the kernel's knobs say why (AppArmor's restriction on Ubuntu 23.10+,
// Debian's unprivileged_userns_clone, a zero namespace limit).
import { readFileSync } from "node:fs";
import { startSandboxedStage } from "../../lib/sandbox/launch.js";
import type { CheckResult } from "./check.js";

export interface UsernsKnobs {
  apparmorRestrict: string | null;
  unprivilegedClone: string | null;
  maxUserNamespaces: string | null;
}

export function readUsernsKnobs(): UsernsKnobs {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      return null;
    }
  };
  return {
    apparmorRestrict: read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"),
    unprivilegedClone: read("/proc/sys/kernel/unprivileged_userns_clone"),
    maxUserNamespaces: read("/proc/sys/user/max_user_namespaces"),
  };
}

/** Why user namespaces are refused, and the fix, from the kernel's knobs. */
export function explainUsernsFailure(knobs: UsernsKnobs, stderr: string): { detail: string; fix: string } {
  if (knobs.maxUserNamespaces === "0") {
    return { detail: "user namespaces are disabled (user.max_user_namespaces = 0)", fix: "sudo sysctl -w user.max_user_namespaces=15000" };
  }
  if (knobs.unprivilegedClone === "0") {
    return { detail: "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)", fix: "sudo sysctl -w kernel.unprivileged_userns_clone=1" };
  }
  if (knobs.apparmorRestrict === "1") {
    return {
      detail: "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)",
      fix: "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile allowing userns for node)",
    };
  }
  if (/bwrap not found/.test(stderr)) {
    return { detail: "bwrap (bubblewrap) missing", fix: "sudo apt-get install bubblewrap" };
  }
  if (/not found|ENOENT|No such file/.test(stderr) && /unshare|setpriv/.test(stderr)) {
    return { detail: "unshare/setpriv missing", fix: "sudo apt-get install util-linux" };
  }
  const last = stderr.trim().split("\n").pop() ?? "";
  return { detail: `the stage sandbox could not start${last ? `: ${last}` : ""}`, fix: "check that bwrap --unshare-user --unshare-pid --dev-bind / / unshare --user --map-root-user true works for this user" };
}

export async function checkUserNamespaces(): Promise<CheckResult> {
  const name = "user namespaces";
  let stderr = "";
  let code: number | null = null;
  try {
    const child = startSandboxedStage({ stage: "doctor", command: ["/bin/true"] });
    child.stdin.end();
    child.stdout.resume();
    child.stderr.on("data", (c: Buffer) => { stderr += c.toString(); });
    code = await new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once("exit", (c) => resolve(c));
    });
    await child.exited;
  } catch (err) {
    stderr += (err as Error).message;
  }
  if (code === 0) {
    const who = process.getuid?.() === 0 ? "as root, stages drop to uid 65534" : "as an ordinary user";
    return { name, status: "ok", detail: `stage sandbox works (bubblewrap; user, mount, PID, network namespaces; ${who})` };
  }
  return { name, status: "fail", ...explainUsernsFailure(readUsernsKnobs(), stderr) };
}
