// Ctrl-C in the middle of a stage subcommand: exit status 130, one line,
// and nothing left: no output directory it made, no run directory, no process.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { cli } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "cli-interrupt-test-"));
const layout = join(work, "layout");
test.before(async () => {
  // Big enough that unpacking takes a while: many files of incompressible bytes.
  const entries = Array.from({ length: 120 }, (_, i) => ({ type: "file" as const, path: `data/f${i}`, random: { size: 1024 * 1024, seed: i } }));
  await buildImage({ base: "scratch", layers: [{ compression: "gzip", entries }] }, { format: "oci-dir", out: layout });
});
test.after(() => rmSync(work, { recursive: true, force: true }));

function processesMentioning(text: string): string[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(text);
    } catch {
      return false;
    }
  });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`${signal} during unpack`, async () => {
    const out = join(work, `out-${signal}`);
    const child = execa(cli, ["unpack", "--image", layout, "--out", out], { reject: false, env: { BENCHER_RUN_CACHE: join(work, "cache") } });
    // Wait until the stage has started writing.
    const t0 = Date.now();
    while (!existsSync(join(out, "rootfs", "data")) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(existsSync(join(out, "rootfs", "data")), "the stage was under way");
    child.kill(signal);
    const r = await child;
    assert.is(r.exitCode, signal === "SIGINT" ? 130 : 143, String(r.stderr));
    assert.is(String(r.stderr), `bencher-run: interrupted by ${signal}`);
    assert.not.ok(existsSync(out), "the output directory it created is gone");
    assert.equal(processesMentioning(out), [], "no stage process left");
  });
}

// bencher-run image: the build stops, and what it wrote goes; an image being replaced stays.
const bigDescription = join(work, "big.json");
async function interruptedImage(args: string[], started: () => boolean, tmp: string) {
  const child = execa(cli, ["image", bigDescription, ...args], { reject: false, env: { TMPDIR: tmp } });
  const t0 = Date.now();
  while (!started() && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(started(), "the build was under way");
  child.kill("SIGINT");
  const r = await child;
  assert.is(r.exitCode, 130, String(r.stderr));
  assert.is(String(r.stderr), "bencher-run: interrupted by SIGINT");
}

test("SIGINT during image: a new image, a new archive, a replacement", async () => {
  const entries = Array.from({ length: 120 }, (_, i) => ({ type: "file", path: `data/f${i}`, random: { size: 1024 * 1024, seed: i } }));
  writeFileSync(bigDescription, JSON.stringify({ base: "scratch", layers: [{ compression: "gzip", entries }] }));
  const tmp = join(work, "tmp");
  mkdirSync(tmp);

  // The build goes beside --out, to a hidden .NAME.new-PID, and is renamed to --out at the end.
  const building = (dir: string, name: string) => () => existsSync(dir) && readdirSync(dir).some((n) => n.startsWith(`.${name}.new-`));
  const dirOut = join(work, "img.oci");
  await interruptedImage(["--out", dirOut], building(work, "img.oci"), tmp);
  assert.not.ok(existsSync(dirOut), "no image directory");
  assert.equal(readdirSync(work).filter((n) => n.startsWith(".")), [], "what it built is gone");

  // Into directories that did not exist: they are made for the build, and go with it.
  const nested = join(work, "nest", "a", "img.oci");
  await interruptedImage(["--out", nested], building(join(work, "nest", "a"), "img.oci"), tmp);
  assert.not.ok(existsSync(join(work, "nest")), "the parent directories made for it are gone");

  // An archive is staged in a temporary directory first.
  const archive = join(work, "img.tar");
  await interruptedImage(["--out", archive, "--format", "oci-archive"], () => readdirSync(tmp).length > 0, tmp);
  assert.not.ok(existsSync(archive));
  assert.equal(readdirSync(tmp), [], "its staging directory is gone");

  // --force builds beside the old image and swaps at the end: stopped before, the old one stays.
  cpSync(layout, dirOut, { recursive: true });
  const before = readFileSync(join(dirOut, "index.json"), "utf8");
  await interruptedImage(["--out", dirOut, "--force"], building(work, "img.oci"), tmp);
  assert.is(readFileSync(join(dirOut, "index.json"), "utf8"), before, "the old image is untouched");
  assert.equal(readdirSync(work).filter((n) => n.startsWith(".")), [], "the new build is gone");
  rmSync(dirOut, { recursive: true });

  // SIGKILL: nothing can clean up, but --out never holds a partial image a later run would take for a whole one.
  const killed = execa(cli, ["image", bigDescription, "--out", dirOut], { reject: false, env: { TMPDIR: tmp } });
  const t0 = Date.now();
  while (!building(work, "img.oci")() && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
  killed.kill("SIGKILL");
  assert.is((await killed).signal, "SIGKILL");
  assert.not.ok(existsSync(dirOut), "no partial image at --out");
  for (const left of readdirSync(work).filter((n) => n.startsWith(".img.oci.new-"))) rmSync(join(work, left), { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
});

test.run();
