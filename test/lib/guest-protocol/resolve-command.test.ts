// Docker's ENTRYPOINT/CMD/env/workdir/user rules, as `docker run` applies them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DEFAULT_PATH, resolveCommand, resolveEnv, resolveRunSpec, shellForm } from "../../../lib/guest-protocol/resolve-command.js";

const image = { entrypoint: ["/entry", "--flag"], cmd: ["default", "args"] };

test("ENTRYPOINT then CMD", () => {
  assert.equal(resolveCommand(image), ["/entry", "--flag", "default", "args"]);
});

test("arguments replace CMD and keep ENTRYPOINT", () => {
  assert.equal(resolveCommand(image, { cmd: ["mine"] }), ["/entry", "--flag", "mine"]);
});

test("an empty argument list is no override", () => {
  assert.equal(resolveCommand(image, { cmd: [] }), ["/entry", "--flag", "default", "args"]);
});

test("--entrypoint replaces ENTRYPOINT and drops the image's CMD", () => {
  assert.equal(resolveCommand(image, { entrypoint: ["/other"] }), ["/other"]);
  assert.equal(resolveCommand(image, { entrypoint: ["/other"], cmd: ["x"] }), ["/other", "x"]);
  // Cleared (--entrypoint ''): the arguments are the whole command; with none, nothing is left to run.
  assert.equal(resolveCommand(image, { entrypoint: [], cmd: ["/bin/echo", "hi"] }), ["/bin/echo", "hi"]);
  assert.throws(() => resolveCommand(image, { entrypoint: [] }), /no command to run/);
});

test("--entrypoint '' clears it: then the arguments run alone", () => {
  assert.equal(resolveCommand(image, { entrypoint: [], cmd: ["ls", "-l"] }), ["ls", "-l"]);
  assert.throws(() => resolveCommand(image, { entrypoint: [] }), /no command to run/);
});

test("CMD alone, and the shell form as a Dockerfile stores it", () => {
  assert.equal(resolveCommand({ entrypoint: null, cmd: shellForm("echo $HOME && ls") }), ["/bin/sh", "-c", "echo $HOME && ls"]);
  assert.equal(resolveCommand({ entrypoint: shellForm("exec server"), cmd: ["ignored?"] }), ["/bin/sh", "-c", "exec server", "ignored?"]);
});

test("nothing to run is a clear error", () => {
  assert.throws(() => resolveCommand({ entrypoint: null, cmd: null }), /no command to run: the image has no ENTRYPOINT or CMD/);
  assert.throws(() => resolveCommand({ entrypoint: null, cmd: [""] }), /program name is empty/);
});

test("env: overrides replace in place, others append, PATH defaults as in Docker", () => {
  assert.equal(resolveEnv(["A=1", "B=2"], ["B=3", "C=4"]), ["A=1", "B=3", "C=4", `PATH=${DEFAULT_PATH}`]);
  assert.equal(resolveEnv(["PATH=/x"], []), ["PATH=/x"]);
  assert.equal(resolveEnv(null, ["V=a=b"]), ["V=a=b", `PATH=${DEFAULT_PATH}`]);
  assert.throws(() => resolveEnv([], ["=x"]), /env override "=x" is not NAME=value/);
  assert.throws(() => resolveEnv(["NOEQ=1", "NOVALUE"]), /image env entry "NOVALUE" is not NAME=value/); // as runc refuses it
});

test("env: a bare NAME override removes the image's NAME (docker run -e NAME, when the caller has none)", () => {
  assert.equal(resolveEnv(["A=1", "B=2"], ["A"]), ["B=2", `PATH=${DEFAULT_PATH}`]);
  assert.equal(resolveEnv(["A=1"], ["MISSING"]), ["A=1", `PATH=${DEFAULT_PATH}`]);
  // Removed, then set again: the later override wins, as Docker's list does.
  assert.equal(resolveEnv(["A=1"], ["A", "A=2"]), ["A=2", `PATH=${DEFAULT_PATH}`]);
  assert.throws(() => resolveEnv(["=bad"]), /image env entry "=bad"/);
});

test("working directory and user: override, else image, else defaults", () => {
  const full = { ...image, env: ["A=1"], workingDir: "/app", user: "app" };
  assert.equal(resolveRunSpec(full), {
    argv: ["/entry", "--flag", "default", "args"],
    env: ["A=1", `PATH=${DEFAULT_PATH}`],
    workingDir: "/app",
    user: "app",
  });
  const over = resolveRunSpec(full, { workingDir: "/tmp", user: "0:0" });
  assert.equal([over.workingDir, over.user], ["/tmp", "0:0"]);
  const bare = resolveRunSpec({ entrypoint: null, cmd: ["x"], workingDir: "", user: null });
  assert.equal([bare.workingDir, bare.user], ["/", ""]);
  // An empty --user is no --user (docker run -u ""): the image's USER stays, never a quiet switch to root.
  assert.is(resolveRunSpec(full, { user: "" }).user, "app");
  assert.throws(() => resolveRunSpec(full, { workingDir: "rel/dir" }), /working directory "rel\/dir" is not an absolute path/);
  assert.throws(() => resolveRunSpec(full, { user: "a b" }), /user "a b"/);
});

test.run();
