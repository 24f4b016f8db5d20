// `bencher-run cache` on a real cache: an image built by the mkrootfs
// command is listed, then pruned away.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../../lib/oci/build-image.js";
import { runCli } from "../helpers.js";

const work = mkdtempSync(join(tmpdir(), "cli-cache-test-"));
const cache = join(work, "cache");
const env = { BENCHER_RUN_CACHE: cache, BENCHER_RUN_WORKDIR: join(work, "runs") };
test.after(() => rmSync(work, { recursive: true, force: true }));

test("ls shows an image mkrootfs cached; prune --max-mib 0 removes it", async () => {
  const empty = await runCli(["cache", "ls"], env);
  assert.is(empty.stdout, `cache: ${cache}\nno root images cached`);

  const layout = join(work, "layout");
  const built = await buildImage({ base: "scratch", layers: [{ entries: [{ type: "file", path: "/hello", content: "hi" }] }] }, { format: "oci-dir", out: layout });
  const id = built.images[0]!.config.digest;
  assert.is((await runCli(["unpack", "--image", layout, "--out", join(work, "unpacked")], env)).exitCode, 0);
  const made = await runCli(["mkrootfs", "--input", join(work, "unpacked")], env);
  assert.is(made.exitCode, 0, made.stderr);

  const ls = await runCli(["cache", "ls"], env);
  const lines = ls.stdout.trimEnd().split("\n");
  assert.is(lines[0], `cache: ${cache}`);
  assert.match(lines[1]!, /^1 root image, [\d.]+ [KM]iB on disk/);
  assert.match(lines[2]!, /^IMAGE ID\s+PLATFORM\s+FS\s+SIZE\s+ON DISK\s+LAST USED \(UTC\)\s+SOURCE$/);
  assert.match(lines[3]!, new RegExp(`^${id.slice(0, 19)}\\s+linux/amd64\\s+ext4\\s+[\\d.]+ [KMG]iB\\s+[\\d.]+ [KM]iB\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  claimed: mkrootfs --input ${join(work, "unpacked")}$`));
  const json = JSON.parse((await runCli(["cache", "ls", "--json"], env)).stdout);
  assert.is(json.images.length, 1);
  assert.is(json.images[0].digest, id);
  assert.is(json.images[0].platform, "linux/amd64", "from config.json, kept in the cache's sidecar");
  assert.equal(json.images[0].origin, { claimedBy: `mkrootfs --input ${join(work, "unpacked")}` }, "a directory's word, not a checked image's");

  const pruned = await runCli(["cache", "prune", "--max-mib", "0"], env);
  assert.is(pruned.exitCode, 0, pruned.stderr);
  assert.is(pruned.stdout.split("\n")[0], `removed 1 root image: ${id.slice(0, 19)}`);
  assert.equal(readdirSync(join(cache, "rootfs")).filter((n) => n.endsWith(".ext4")), []);
});

test("an unknown action is a usage error", async () => {
  const r = await runCli(["cache", "clear"], env);
  assert.is(r.exitCode, 2);
  assert.is(r.stderr, 'bencher-run: unknown action "clear": expected ls (or list) or prune (see bencher-run cache --help)');
  const misplaced = await runCli(["cache", "ls", "--max-mib", "5"], env);
  assert.is(misplaced.stderr, "bencher-run: --max-mib applies to prune only (see bencher-run cache --help)");
  assert.is(misplaced.exitCode, 2);
  const negative = await runCli(["cache", "prune", "--max-mib", "-1"], env);
  assert.match(negative.stderr, /^bencher-run: --max-mib -1: expected a whole number from 0 to \d+$/);
});

test.run();
