// Path options are checked for every subcommand before it runs: an empty
// path is refused (exit 2, one line naming the option) rather than taken as
// not given or as the working directory, and so is a name that is not UTF-8,
// which Node would have changed; nothing is made.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { cli, runCli } from "../helpers.js";
import { makeUnpackedImage } from "../../stages/mkrootfs/fixture.js";

const work = mkdtempSync(join(tmpdir(), "cli-path-options-"));
const cache = join(work, "cache");
const env = { BENCHER_RUN_CACHE: cache };
const description = join(work, "image.json");
writeFileSync(description, JSON.stringify({ base: "scratch", layers: [{ entries: [{ type: "file", path: "/x", content: "x" }] }] }));
const unpacked = makeUnpackedImage({ entries: [{ path: "/hello", type: "file", content: "hello\n" }] }, join(work, "unpacked"));
test.after(() => rmSync(work, { recursive: true, force: true }));

test("an empty path is refused, naming the option as the help does, before anything is made", async () => {
  const cases: [string[], string][] = [
    [["image", description, "--out", ""], "--out"],
    [["image", "", "--out", join(work, "x.oci")], "DESCRIPTION"],
    [["unpack", "--image", join(work, "layout"), "--out", ""], "--out"],
    [["mkrootfs", "--input", unpacked, "--out", ""], "--out"],
    [["mkrootfs", "--input", ""], "--input"],
    [["boot", "--kernel", ""], "--kernel"],
    [["boot", "--kernel=", "--console-log", join(work, "console.log")], "--kernel"],
    [["doctor", "--workdir", ""], "--workdir"],
  ];
  for (const [args, option] of cases) {
    const r = await runCli(args, env);
    assert.is(r.stderr, `bencher-run: ${option}: empty path`, args.join(" "));
    assert.is(r.exitCode, 2, args.join(" "));
  }
  assert.equal(readdirSync(work).sort(), ["image.json", "unpacked"], "no image, cache or output made");
});

test("collect and pipeline, which exit 125 for their own failures, refuse an empty path the same way", async () => {
  const r = await runCli(["collect", "--socket", "", "--job", description], env);
  assert.is(r.stderr, "bencher-run: --socket: empty path");
  assert.is(r.exitCode, 125);
  for (const option of ["--kernel", "--output-dir", "--work-root", "--registry-ca", "--authfile"]) {
    const p = await runCli(["pipeline", "--image", join(work, "layout"), option, "", "--output", "/x"], env);
    assert.equal([p.exitCode, p.stderr], [125, `bencher-run: ${option}: empty path`], option);
  }
});

/**
 * Runs the CLI as a shell does with a file name that is not UTF-8: the
 * argument BAD stands for `bad`, its octal escapes made bytes by printf
 * (Node cannot give a child such an argument itself).
 */
function runWithBadName(args: string[], bad: string): { status: number | null; stderr: string } {
  const script = 'bad=$(printf "$1"); shift; for a; do shift; if [ "$a" = BAD ]; then set -- "$@" "$bad"; else set -- "$@" "$a"; fi; done; exec "$@"';
  const r = spawnSync("sh", ["-c", script, "sh", bad, cli, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr };
}

test("a path that is not UTF-8 is refused, not written or read under a changed name", () => {
  const dir = join(work, "utf8");
  mkdirSync(dir);
  const said = (option: string, shown: string) => `bencher-run: ${option} ${shown}: not valid UTF-8 (Node cannot pass such a name through: rename it)\n`;
  const out = runWithBadName(["image", description, "--out", "BAD"], `${dir}/\\377bad.oci`);
  assert.is(out.stderr, said("--out", `${dir}/\uFFFDbad.oci`));
  assert.is(out.status, 2);
  assert.equal(readdirSync(dir), [], "no image under a name with U+FFFD in it");
  const image = runWithBadName(["unpack", "--image", "BAD", "--out", join(dir, "unpacked")], "\\376dir/x.oci");
  assert.is(image.stderr, said("--image", "\uFFFDdir/x.oci"));
  assert.is(image.status, 2);
  assert.equal(readdirSync(dir), []);
  const pipeline = runWithBadName(["pipeline", "--image", join(work, "layout"), "--output", "/x", "--output-dir", "BAD"], `${dir}/\\377results`);
  assert.is(pipeline.stderr, said("--output-dir", `${dir}/�results`));
  assert.is(pipeline.status, 125);
  assert.equal(readdirSync(dir), []);
});

test.run();
