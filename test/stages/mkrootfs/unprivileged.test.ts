// mkrootfs needs no host root: run as nobody inside a user namespace with
// only that one uid mapped (how the sandbox starts stages), and as plain
// nobody without one; the image's owners are right either way.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { chownSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./fixture.js";
import { richImage } from "./rich-image.js";
import { assertExt4Matches } from "./check-ext4.js";
import { statPath } from "./inspect.js";

const NOBODY = 65534;
const child = fileURLToPath(new URL("./fixtures/unprivileged-run.js", import.meta.url));
const isRoot = process.getuid!() === 0;

interface ChildReport {
  result: { image: string; fs: string };
  uid: number;
  uidMap: number[];
}

/** Runs the child as nobody (when we are root), optionally inside a new user namespace mapping it to 0. */
function runUnprivileged(work: string, fs: string, userns: boolean): ChildReport {
  const command: string[] = [];
  if (isRoot) {
    chownSync(work, NOBODY, NOBODY);
    command.push("setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups");
  }
  if (userns) command.push("unshare", "--user", "--map-root-user");
  command.push(process.execPath, child, work, fs);
  const out = execFileSync(command[0], command.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  return JSON.parse(out.trim().split("\n").pop()!);
}

test("as nobody inside a user namespace (uid 0 mapped to nobody): owners and devices right", () => {
  const work = tempDir();
  try {
    const report = runUnprivileged(work, "ext4", true);
    assert.is(report.uid, 0);
    // Exactly one uid mapped, and it is not host root.
    assert.equal(report.uidMap, [0, isRoot ? NOBODY : process.getuid!(), 1]);
    assert.is(report.result.image, join(work, "image.ext4"));
    assertExt4Matches(report.result.image, richImage().expected);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("as plain nobody without a namespace: host owners are replaced by the contract's 0:0", () => {
  const work = tempDir();
  try {
    const report = runUnprivileged(work, "ext4", false);
    assert.is.not(report.uid, 0);
    assertExt4Matches(report.result.image, richImage().expected);
    assert.is(statPath(report.result.image, "/bin").uid, 0);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test.run();
