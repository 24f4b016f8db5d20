// The unpack executable speaks the stage protocol (lib/ipc) and works the way
// the coordinator runs it: unprivileged, root only inside a user namespace
// with one uid mapped.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { callStage } from "../../../lib/ipc/call.js";
import { projectRoot } from "../../../lib/paths.js";
import { buildImage } from "../../../lib/oci/build-image.js";
import { readMetadata, rejects, snapshot } from "./helpers.js";
import { unpack } from "../../../stages/unpack/unpack.js";

const main = join(projectRoot, "dist/stages/unpack/main.js");
const work = mkdtempSync(join(tmpdir(), "unpack-main-"));
chmodSync(work, 0o777); // the unprivileged run writes here
test.after(() => rmSync(work, { recursive: true, force: true }));

const image = join(work, "image");
test.before(async () => {
  await buildImage(
    {
      layers: [{
        compression: "gzip",
        entries: [
          { type: "file", path: "/usr/bin/suid", content: "x", mode: 0o4755 },
          { type: "file", path: "/home/u/f", content: "y", uid: 1000, gid: 1000, mode: 0o600 },
          { type: "dir", path: "/locked", mode: 0o000 },
          { type: "chardev", path: "/dev/null", major: 1, minor: 3, mode: 0o666 },
        ],
      }],
      config: { cmd: ["/bin/sh"] },
    },
    { format: "oci-archive", out: image },
  );
  chmodSync(image, 0o644);
});

/** Runs the stage unprivileged (uid 65534) in a user namespace mapping just that uid to root. */
function startStage(unprivileged: boolean) {
  const argv = unprivileged
    ? ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", "unshare", "--user", "--map-root-user", process.execPath, main]
    : [process.execPath, main];
  return spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
}

test("the stage unpacks through the protocol, unprivileged, and reports progress", async () => {
  const out = join(work, "out");
  const progress: string[] = [];
  const result = await callStage<Record<string, unknown>>(startStage(true), { image, out }, {
    stage: "unpack",
    onProgress: (_fraction, message) => progress.push(message),
  });
  assert.is(result.rootfs, join(out, "rootfs"));
  assert.ok(progress.some((m) => m.startsWith("unpacking layer 2/2")));
  const records = readMetadata(join(out, "metadata.jsonl"));
  const byPath = new Map(records.map((r) => [r.path, r]));
  assert.equal([...byPath.keys()].sort(), ["/dev/null", "/home/u/f", "/locked", "/tmp", "/usr/bin/suid"]);
  assert.is(byPath.get("/home/u/f")!.uid, 1000);
  // The tree keeps it searchable for mkrootfs (the stages' uid owns it); its mode 0000 is in the metadata.
  const locked = byPath.get("/locked")!;
  assert.equal([locked.uid, locked.gid, locked.mode], [0, 0, 0]);
  assert.is(statSync(join(out, "rootfs", "locked")).mode & 0o7777, 0o500);
  // The same tree as an unpack by root in this process.
  const reference = await unpack({ image, out: join(work, "reference") });
  assert.equal(snapshot(join(out, "rootfs")), snapshot(reference.rootfs));
  assert.is(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).digest, reference.digest);
});

test("bad requests and bad images come back as one-line stage errors", async () => {
  await rejects(() => callStage(startStage(false), { image }, { stage: "unpack" }), /"out" is required/);
  const out = join(work, "never");
  await rejects(() => callStage(startStage(false), { image: join(work, "missing.tar"), out }, { stage: "unpack" }), /no such file or directory/);
  assert.not.ok(existsSync(out));
});

test.run();
