// The runner's --user check against guest-init itself: for every spec, on an
// image with awkward /etc/passwd and /etc/group lines, the host refuses only
// what guest-init refuses (with the same reason), and where the host knows the
// accounts, it accepts what guest-init accepts. guest-init runs on the host
// (test/guest-init/host-harness.ts), against the very tree mkrootfs reads.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { userSpecProblem } from "../../../bin/pipeline/user-check.js";
import { readImageAccounts } from "../../../stages/mkrootfs/accounts.js";
import { isRoot, jobFor, makeRootfs, runHostTest } from "../../guest-init/host-harness.js";

test("without recorded accounts only a malformed spec is refused", () => {
  assert.is(userSpecProblem("ghost", undefined), undefined);
  assert.is(userSpecProblem("ghost:ghosts", { users: null, groups: null }), undefined);
  assert.is(userSpecProblem("bench:", undefined), "empty group after ':'");
  assert.is(userSpecProblem("x".repeat(256), undefined), "name too long");
});

test("names are compared as the image's bytes", () => {
  const accounts = { users: [Buffer.from("bénch").toString("latin1")], groups: [] };
  assert.is(userSpecProblem("bénch", accounts), undefined);
  assert.is(userSpecProblem("bench", accounts), `no such user "bench" in the image's /etc/passwd`);
  assert.is(userSpecProblem("bénch:staff", accounts), `no such group "staff" in the image's /etc/group`);
  assert.is(userSpecProblem("4242:4343", accounts), undefined, "numeric ids need no entry");
});

if (!isRoot) console.log("user-check.test: the agreement with guest-init skipped, switching users needs real root");
else {
  test("the host check and guest-init agree on every spec", async () => {
    const root = makeRootfs();
    try {
      writeFileSync(join(root, "etc/passwd"), [
        "root:x:0:0:root:/root:/bin/sh", "bench:x:1000:1000:Bench:/home/bench:/bin/sh", "# commented:x:7:7:::",
        "+plus:x:8:8:::", "badid:x:nine:9:::", "short:x:10:10", "bénch:x:1001:1001::/:/bin/sh", "",
      ].join("\n"));
      writeFileSync(join(root, "etc/group"), "root:x:0:\nbench:x:1000:\ntools:x:3000:bench\nbadgid:x:g:\n");
      const accounts = readImageAccounts(root);
      const specs = [
        "", "root", "0", "bench", "1000", "4242", "bench:tools", "bench:77", "4242:4343", ":tools", "bénch",
        "ghost", "commented", "plus", "badid", "short", "bench:ghosts", "bench:badgid", "4242:ghosts", "bench:", "x".repeat(300),
      ];
      for (const user of specs) {
        const host = userSpecProblem(user, accounts);
        const run = await runHostTest(jobFor(["true"], { user }), { root });
        const guest = run.result.guestError;
        if (host === undefined) assert.is(guest, null, `host accepts ${JSON.stringify(user)}, guest-init says ${guest}`);
        else {
          assert.ok(guest !== null, `host refuses ${JSON.stringify(user)} (${host}), guest-init runs it`);
          const what = /^no such (user|group)/.exec(host)?.[0] ?? host;
          assert.ok(guest!.includes(what), `${JSON.stringify(user)}: host "${host}", guest-init "${guest}"`);
        }
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test.run();
