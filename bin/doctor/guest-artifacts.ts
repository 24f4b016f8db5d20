// The guest kernel and guest-init: built (by ./setup) or not.
import { existsSync } from "node:fs";
import { locateKernel } from "../../kernel/locate.js";
import { guestInitPath } from "../../guest-init/build.js";
import { CommandError } from "../cli/command-error.js";
import type { CheckResult } from "./check.js";

/** The built guest kernel's path, or a one-line CommandError saying how to build it. */
export function findKernel(): string {
  try {
    return locateKernel();
  } catch (err) {
    throw new CommandError((err as Error).message);
  }
}

export function checkKernel(): CheckResult {
  try {
    return { name: "guest kernel", status: "ok", detail: locateKernel() };
  } catch (err) {
    // locateKernel's message ends with its own fix ("...; run ./setup ..."): keep the two apart.
    const message = (err as Error).message.replace(/^guest kernel: /, "");
    const [, detail, fix] = /^(.*?);\s*(run .*)$/.exec(message) ?? [message, message, "run ./setup (builds it, a few minutes)"];
    return { name: "guest kernel", status: "fail", detail, fix };
  }
}

export function checkGuestInit(): CheckResult {
  let path: string;
  try {
    path = guestInitPath();
  } catch (err) {
    return { name: "guest-init", status: "fail", detail: (err as Error).message, fix: "run ./setup" };
  }
  if (existsSync(path)) return { name: "guest-init", status: "ok", detail: path };
  return { name: "guest-init", status: "fail", detail: `not built (expected ${path})`, fix: "run ./setup (needs musl-tools)" };
}
