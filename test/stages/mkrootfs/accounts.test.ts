// The image's user and group names as mkrootfs records them for the runner's
// --user check: guest-init's reading of /etc/passwd and /etc/group, and
// "unknown" (null) wherever the host would read differently from the guest.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_ACCOUNT_NAMES, readImageAccounts } from "../../../stages/mkrootfs/accounts.js";
import { MAX_FRAME_VALUES, countValues, encodeFrame } from "../../../lib/ipc/frame.js";
import { tempDir } from "./fixture.js";

const work = tempDir();
test.after(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
function tree(files: Record<string, string | { symlink: string }>): string {
  const root = join(work, `root-${n++}`);
  mkdirSync(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    if (typeof content === "string") writeFileSync(join(root, path), content);
    else symlinkSync(content.symlink, join(root, path));
  }
  return root;
}

test("names on lines guest-init matches: comments, +/- lines, short lines and bad ids skipped", () => {
  const root = tree({
    "etc/passwd": [
      "root:x:0:0:root:/root:/bin/sh", "# comment:x:1:1:::", "+nis:x:2:2:::", "-nis:x:3:3:::", "",
      "short:x:4:4", "badid:x:four:4:::", "huge:x:4294967295:1:::", "colons:x:5:5:a:b:c:d", "bench:x:1000:1000::/home/bench:/bin/sh",
    ].join("\n"),
    "etc/group": "root:x:0:\nshort:x\nbad:x:-1:\ntools:x:3000:bench\n",
  });
  assert.equal(readImageAccounts(root), { users: ["root", "colons", "bench"], groups: ["root", "tools"] });
});

test("no /etc, or no file: known to have no names", () => {
  assert.equal(readImageAccounts(tree({ "bin/sh": "" })), { users: [], groups: [] });
  assert.equal(readImageAccounts(tree({ "etc/passwd": "root:x:0:0::/:/bin/sh\n" })), { users: ["root"], groups: [] });
});

test("what the guest resolves differently is unknown, never refused", () => {
  // Symlinks resolve inside the image in the guest; the host does not follow them.
  assert.equal(readImageAccounts(tree({ "etc/passwd": { symlink: "/etc/passwd.real" }, "etc/passwd.real": "bench:x:1:1:::\n", "etc/group": "g:x:1:\n" })), { users: null, groups: ["g"] });
  const linkedEtc = tree({ "real-etc/passwd": "bench:x:1:1:::\n" });
  symlinkSync("real-etc", join(linkedEtc, "etc"));
  assert.equal(readImageAccounts(linkedEtc), { users: null, groups: null });
  // A NUL ends guest-init's strings; a file beyond the 4 MiB guest-init reads.
  assert.equal(readImageAccounts(tree({ "etc/passwd": "a:x:1:1:::\n\0b:x:2:2:::\n" })).users, null);
  assert.equal(readImageAccounts(tree({ "etc/group": "g:x:1:\n" + "#".repeat(4 << 20) })).groups, null);
  // A directory where the file should be.
  assert.equal(readImageAccounts(tree({ "etc/passwd/x": "" })).users, null);
});

test("more names than one result frame may carry are unknown, so the result still reaches the coordinator", () => {
  // 4 MiB of minimal lines (guest-init's limit) would be ~400,000 names.
  const lines = (n: number, fields: string) => Array.from({ length: n }, (_, i) => `u${i}${fields}`).join("\n");
  const many = readImageAccounts(tree({ "etc/passwd": lines(MAX_ACCOUNT_NAMES + 1, "::1:1:::"), "etc/group": lines(MAX_ACCOUNT_NAMES + 1, "::1:") }));
  assert.equal(many, { users: null, groups: null });
  const most = readImageAccounts(tree({ "etc/passwd": lines(MAX_ACCOUNT_NAMES, "::1:1:::"), "etc/group": lines(MAX_ACCOUNT_NAMES, "::1:") }));
  assert.is(most.users?.length, MAX_ACCOUNT_NAMES);
  assert.ok(countValues(encodeFrame({ type: "result", body: { accounts: most } }).subarray(4), MAX_FRAME_VALUES) <= MAX_FRAME_VALUES);
});

test.run();
