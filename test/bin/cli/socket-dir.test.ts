// The socket directory boot and collect share: made by whichever command
// starts first, removed by whichever ends last, never one of the user's.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeSocketAndDir, socketPath } from "../../../bin/cli/socket-dir.js";
import { CommandError } from "../../../bin/cli/command-error.js";

const work = mkdtempSync(join(tmpdir(), "cli-paths-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** A stage's socket at `path`, as the stage makes it; closing a listener would remove the file, so it is unref'd and left open. */
async function listen(path: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(path, done));
  server.unref();
  return server;
}

test("the socket directory goes when the last of the two commands ends, whichever made it", async () => {
  for (const madeBy of ["collect", "boot"]) {
    const dir = join(work, `sockets-${madeBy}`);
    const collectPath = join(dir, "v_1024");
    const bootPath = join(dir, "v");
    const first = socketPath("first", madeBy === "collect" ? collectPath : bootPath);
    const second = socketPath("second", madeBy === "collect" ? bootPath : collectPath);
    assert.ok(first.created && second.created, "both know a stage command made it");
    const servers = [await listen(first.path), await listen(second.path)];

    removeSocketAndDir(first); // ends first: the other's socket is still there
    assert.equal(readdirSync(dir).filter((name) => !name.startsWith(".")), [madeBy === "collect" ? "v" : "v_1024"]);
    removeSocketAndDir(second);
    assert.not.ok(existsSync(dir), `the directory ${madeBy}'s command made is gone`);
    servers.forEach((s) => s.close());
  }
});

test("a directory of the user's stays, without the sockets the stages left in it", async () => {
  const dir = join(work, "users");
  mkdirSync(dir);
  const sockets = socketPath("socket", join(dir, "v_1024"));
  assert.not.ok(sockets.created);
  const server = await listen(sockets.path); // a stage that failed left it
  removeSocketAndDir(sockets);
  assert.equal(readdirSync(dir), []);
  server.close();
});

test("a socket directory holding anything but sockets is refused; the mark of a stage command is not such a thing", () => {
  const dir = join(work, "busy");
  mkdirSync(dir);
  writeFileSync(join(dir, "notes.txt"), "mine");
  assert.throws(() => socketPath("socket", join(dir, "v_1024")), (err: unknown) =>
    err instanceof CommandError && err.message === `--socket ${join(dir, "v_1024")}: ${dir} holds files other than sockets (name a new directory, or the one the other stage's socket is in)`);
  const made = socketPath("vsock", join(work, "fresh", "v"));
  const other = socketPath("socket", join(work, "fresh", "v_1024"));
  assert.ok(other.created);
  removeSocketAndDir(made);
  removeSocketAndDir(other);
  assert.not.ok(existsSync(join(work, "fresh")), "nothing but the mark was left, so the directory went");
});

test("a command that ends before the other has listened (boot failing at once) leaves the directory to it", async () => {
  const dir = join(work, "early-end");
  const boot = socketPath("vsock", join(dir, "v"));
  const collect = socketPath("socket", join(dir, "v_1024"));
  removeSocketAndDir(boot); // collect has not listened yet
  assert.ok(existsSync(dir), "collect's claim keeps the directory");
  const server = await listen(collect.path);
  removeSocketAndDir(collect);
  assert.not.ok(existsSync(dir));
  server.close();
});

test("a killed command's claim does not keep the directory for good", () => {
  const dir = join(work, "killed");
  const boot = socketPath("vsock", join(dir, "v"));
  const gone = spawnSync("true").pid!; // a process that has ended
  writeFileSync(join(dir, `.in-use-by-bencher-run-${gone}-1`), "");
  removeSocketAndDir(boot);
  assert.not.ok(existsSync(dir));
});

test.run();
