// bencher-run collect from a shell: it listens on the socket, a guest-init
// (run on the host in its test mode, as the VM would) connects, runs the job,
// and the CLI leaves stdout, stderr, files and a JSON manifest behind.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { locateGuestInit } from "../../guest-init/locate.js";
import { makeRootfs, isRoot } from "../guest-init/host-harness.js";
import { cli, runCli } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "cli-collect-"));
chmodSync(work, 0o755);
let root = "";
test.before(() => {
  if (isRoot) root = makeRootfs();
});
test.after(() => {
  rmSync(work, { recursive: true, force: true });
  if (root) rmSync(root, { recursive: true, force: true });
});

async function waitFor(path: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(path)) {
    if (Date.now() - t0 > ms) throw new Error(`${path} never appeared`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("collect --out --json with a guest", async () => {
  if (!isRoot) return; // guest-init's host test mode chroots
  const sockets = join(work, "vsock");
  const socket = join(sockets, "v_1024");
  const out = join(work, "out");
  const job = join(work, "job.json");
  writeFileSync(job, JSON.stringify({ argv: ["sh", "-c", "printf 'out\\377'; echo err >&2; echo data > /data/result.txt; exit 3"], env: ["PATH=/bin"], outputPaths: ["/data/result.txt"] }));
  const collect = execa(cli, ["collect", "--socket", socket, "--job", job, "--out", out, "--json", "--timeout", "30"], { reject: false, env: { BENCHER_RUN_CACHE: join(work, "cache") } });
  await waitFor(socket);
  const guest = await execa(locateGuestInit(), ["--host-test", "--socket", socket, "--root", root], { reject: false });
  const r = await collect;
  assert.is(r.exitCode, 3, `the command's exit status: ${r.stderr}\nguest: ${guest.stderr}`);
  const manifest = JSON.parse(String(r.stdout));
  assert.is(manifest.stage, "collect");
  assert.is(manifest.exitCode, 3);
  assert.is(manifest.complete, true);
  assert.ok(readFileSync(join(out, "stdout")).equals(Buffer.from([0x6f, 0x75, 0x74, 0xff])), "stdout byte for byte");
  assert.is(readFileSync(join(out, "stderr"), "utf8"), "err\n");
  const saved = manifest.outputs["/data/result.txt"];
  assert.ok(saved?.startsWith(join(out, "files")), JSON.stringify(manifest.outputs));
  assert.is(readFileSync(saved, "utf8"), "data\n");
});

test("collect exits 125 when no guest came, and says why", async () => {
  const job = join(work, "nobody.json");
  writeFileSync(job, JSON.stringify({ argv: ["true"] }));
  const r = await runCli(["collect", "--socket", join(work, "lonely", "v_1024"), "--job", job, "--boot-timeout", "1"], { BENCHER_RUN_CACHE: join(work, "cache") });
  assert.is(r.exitCode, 125, r.stderr);
  assert.match(r.stderr, /^bencher-run: collected: exit code none \(incomplete\): no guest connected within 1 s$/);
});

test("Ctrl-C on collect: 130, and the summary names SIGINT, the signal the user sent; the socket directory it made goes", async () => {
  const job = join(work, "waiting.json");
  writeFileSync(job, JSON.stringify({ argv: ["true"] }));
  const sockets = join(work, "interrupted");
  const collect = execa(cli, ["collect", "--socket", join(sockets, "v_1024"), "--job", job], { reject: false, env: { BENCHER_RUN_CACHE: join(work, "cache") } });
  await waitFor(join(sockets, "v_1024"));
  collect.kill("SIGINT");
  const r = await collect;
  assert.is(r.exitCode, 130, String(r.stderr));
  assert.is(String(r.stderr), "bencher-run: collected: exit code none (incomplete): the run was stopped before the guest's DONE (collect stopped by SIGINT)");
  assert.not.ok(existsSync(sockets));
});

test("collect refuses a shared socket directory and --json without --out", async () => {
  const job = join(work, "ok.json");
  writeFileSync(job, JSON.stringify({ argv: ["true"] }));
  const shared = await runCli(["collect", "--socket", join(tmpdir(), "s_1024"), "--job", job]);
  assert.is(shared.exitCode, 125, "collect's own failures are 125, never a status the command could have");
  assert.is(shared.stderr, `bencher-run: --socket ${join(tmpdir(), "s_1024")}: ${tmpdir()} holds files other than sockets (name a new directory, or the one the other stage's socket is in)`);
  const json = await runCli(["collect", "--socket", join(work, "x", "s_1024"), "--job", job, "--json"]);
  assert.is(json.stderr, "bencher-run: --json needs --out (stdout carries the manifest, the guest's output goes to files)");
  const late = await runCli(["collect", "--socket", join(work, "x", "s_1024"), "--job", job, "--boot-timeout", "86401"]);
  assert.is(late.stderr, "bencher-run: --boot-timeout 86401: expected a whole number from 1 to 86400");
  assert.not.ok(existsSync(join(work, "x")), "nor the socket directory");
  // A usage error too: 125, with the subcommand's help named.
  const missing = await runCli(["collect", "--job", job]);
  assert.equal([missing.exitCode, missing.stderr], [125, "bencher-run: Missing required argument: --socket (see bencher-run collect --help)"]);
});

test("a bad job file is one line naming it", async () => {
  const job = join(work, "bad.json");
  writeFileSync(job, "{ not json");
  const r = await runCli(["collect", "--socket", join(work, "s2", "v_1024"), "--job", job, "--out", join(work, "o2")], { BENCHER_RUN_CACHE: join(work, "cache") });
  assert.is(r.exitCode, 125);
  assert.match(r.stderr, new RegExp(`^bencher-run: --job ${job}: `));
  // A job that parses but is not one: the file named, the field in its own words.
  for (const [content, problem] of [[{ env: [] }, "argv is missing"], [{ argv: ["true"], bogus: 1 }, "bogus is not a known field"]] as const) {
    writeFileSync(job, JSON.stringify(content));
    const bad = await runCli(["collect", "--socket", join(work, "s2", "v_1024"), "--job", job, "--out", join(work, "o2")], { BENCHER_RUN_CACHE: join(work, "cache") });
    assert.is(bad.exitCode, 125);
    assert.is(bad.stderr, `bencher-run: --job ${job}: ${problem}`);
  }
  assert.not.ok(existsSync(join(work, "o2")));
  assert.not.ok(existsSync(join(work, "s2")), "nor the socket directory");
  const empty = join(work, "empty.json");
  writeFileSync(empty, JSON.stringify({ argv: [] }));
  const e = await runCli(["collect", "--socket", join(work, "s3", "v_1024"), "--job", empty, "--out", join(work, "o3")], { BENCHER_RUN_CACHE: join(work, "cache") });
  assert.is(e.stderr, `bencher-run: --job ${empty}: argv is empty: nothing to run`);
  assert.not.ok(existsSync(join(work, "o3")));
  assert.not.ok(existsSync(join(work, "s3")));
});

test.run();
