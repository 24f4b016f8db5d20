// User switching as Docker's --user does it, resolved against the image's
// /etc/passwd and /etc/group (not the host's).
import { rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isRoot, jobFor, makeRootfs, runHostTest, text } from "./host-harness.js";

let root = "";
test.before(() => {
  root = makeRootfs();
});
test.after(() => rmSync(root, { recursive: true, force: true }));

const ids = ["sh", "-c", 'echo "$(id -u) $(id -g) $(id -G) $HOME"'];

async function idsAs(user: string): Promise<string> {
  const run = await runHostTest(jobFor(ids, { user }), { root });
  assert.is(run.result.guestError, null, `user ${user}`);
  return text(run.result.stdout).trim();
}

if (!isRoot) console.log("user.test: skipped, switching users needs real root");
else {
  test("no user is root with root's home", async () => {
    assert.is(await idsAs(""), "0 0 0 /root");
  });

  test("a user name takes uid, gid, home and the groups listing it", async () => {
    assert.is(await idsAs("bench"), "1000 1000 1000 2000 3000 /home/bench");
  });

  test("a numeric uid found in passwd behaves like its name", async () => {
    assert.is(await idsAs("1000"), "1000 1000 1000 2000 3000 /home/bench");
  });

  test("a numeric uid not in passwd runs with gid 0 and HOME /", async () => {
    assert.is(await idsAs("4242"), "4242 0 0 /");
  });

  test("an explicit group replaces the primary group and the supplementary ones", async () => {
    assert.is(await idsAs("bench:tools"), "1000 3000 3000 /home/bench");
    assert.is(await idsAs("bench:77"), "1000 77 77 /home/bench");
    assert.is(await idsAs("4242:4343"), "4242 4343 4343 /");
  });

  test("an unknown user or group is an ERROR naming it", async () => {
    const user = await runHostTest(jobFor(ids, { user: "ghost" }), { root });
    assert.match(user.result.guestError ?? "", /user ghost: no such user in the image's \/etc\/passwd/);
    assert.is(user.result.metrics.startedMs, null, "never started");
    const group = await runHostTest(jobFor(ids, { user: "bench:ghosts" }), { root });
    assert.match(group.result.guestError ?? "", /group ghosts: no such group/);
  });

  test("a non-root user really lacks root's powers", async () => {
    const run = await runHostTest(jobFor(["sh", "-c", "touch /etc/x 2>&1; echo rc=$?"], { user: "bench" }), { root });
    assert.match(text(run.result.stdout), /Permission denied\nrc=1/);
  });

  test("the user is looked up in the image, not through a symlink out of it", async () => {
    const { symlinkSync, renameSync } = await import("node:fs");
    renameSync(`${root}/etc/passwd`, `${root}/etc/passwd.real`);
    symlinkSync("/../../../../etc/passwd.real", `${root}/etc/passwd`); // resolves inside the image
    try {
      assert.is(await idsAs("bench"), "1000 1000 1000 2000 3000 /home/bench");
    } finally {
      rmSync(`${root}/etc/passwd`);
      renameSync(`${root}/etc/passwd.real`, `${root}/etc/passwd`);
    }
  });
}

test.run();
