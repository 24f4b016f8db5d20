// returnFromStage under a root runner: what the stage uid made in a tree
// becomes the caller's; nothing else changes hands, and nothing outside the
// tree is reached, even when a directory is swapped for a symlink to
// elsewhere at the worst moment (found as a directory, not yet listed), as
// another process of the stage uid could.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chownSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { returnFromStage, unprivilegedStageIds } from "../../../lib/sandbox/stage-identity.js";

const work = mkdtempSync(join(tmpdir(), "stage-identity-"));
const { uid: stageUid, gid: stageGid } = unprivilegedStageIds();
const asRoot = process.getuid?.() === 0;
const uidOf = (path: string) => lstatSync(path).uid;

/** tree/{f, d/{g, e/h}, link → victim/v0} made as the stage's, and victim/v0..v2 the stage uid's too (another process of that uid, elsewhere). */
function makeTree(name: string): { tree: string; victim: string } {
  const tree = join(work, name, "tree");
  const victim = join(work, name, "victim");
  mkdirSync(join(tree, "d", "e"), { recursive: true });
  mkdirSync(victim, { recursive: true });
  for (const file of ["f", "d/g", "d/e/h"]) writeFileSync(join(tree, file), "x");
  for (const file of ["v0", "v1", "v2"]) writeFileSync(join(victim, file), "x");
  symlinkSync(join(victim, "v0"), join(tree, "link"));
  for (const path of [tree, ...["f", "d", "d/g", "d/e", "d/e/h", "link"].map((p) => join(tree, p)), victim, ...["v0", "v1", "v2"].map((v) => join(victim, v))]) {
    lchownSync(path, stageUid, stageGid);
  }
  return { tree, victim };
}

test.after(() => rmSync(work, { recursive: true, force: true }));

if (!asRoot) {
  test("as an ordinary user, the stage ran as the caller: nothing changes hands", () => {
    const tree = join(work, "plain");
    mkdirSync(tree);
    returnFromStage(tree);
    assert.is(uidOf(tree), process.getuid?.());
  });
} else {
  test("the stage's entries become the caller's; a symlink is changed itself, never followed; others' entries keep their owner", () => {
    const { tree, victim } = makeTree("plain");
    chownSync(join(tree, "d", "g"), 1234, 1234);
    returnFromStage(tree);
    for (const path of ["", "f", "d", "d/e", "d/e/h", "link"]) assert.is(uidOf(join(tree, path)), 0, path);
    assert.is(uidOf(join(tree, "d", "g")), 1234, "not the stage's: left");
    assert.is(uidOf(join(victim, "v0")), stageUid, "the symlink's target is not the tree's");
  });

  test("a directory swapped for a symlink to elsewhere once found and before it is listed: nothing outside the tree changes hands", () => {
    const { tree, victim } = makeTree("swapped");
    let swapped = false;
    returnFromStage(tree, (dir) => {
      if (basename(dir) !== "d" || swapped) return;
      swapped = true;
      renameSync(join(tree, "d"), join(tree, "d.moved"));
      symlinkSync(victim, join(tree, "d"));
    });
    assert.ok(swapped, "the walk met d");
    for (const v of ["v0", "v1", "v2"]) assert.is(uidOf(join(victim, v)), stageUid, `victim/${v}`);
    assert.is(uidOf(victim), stageUid);
  });

  test("a directory swapped for a symlink deeper down, after its parent was opened: the same", () => {
    const { tree, victim } = makeTree("deeper");
    returnFromStage(tree, (dir) => {
      if (basename(dir) !== "e") return;
      // The parent d is open already: its entry e becomes a symlink to the victim.
      renameSync(join(tree, "d", "e"), join(tree, "e.moved"));
      symlinkSync(victim, join(tree, "d", "e"));
    });
    for (const v of ["v0", "v1", "v2"]) assert.is(uidOf(join(victim, v)), stageUid, `victim/${v}`);
  });
}

test.run();
