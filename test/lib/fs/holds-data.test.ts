// holdsData: the kernel's SEEK_DATA, with every doubt answered "it holds data".
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { holdsData } from "../../../lib/fs/holds-data.js";

const work = mkdtempSync(join(tmpdir(), "holds-data-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

test("all holes: no data; data anywhere, even after a long hole: data", () => {
  const hole = join(work, "hole");
  writeFileSync(hole, "");
  truncateSync(hole, 2 ** 36);
  assert.is(holdsData(hole), false);
  const tail = join(work, "tail");
  writeFileSync(tail, "");
  truncateSync(tail, 2 ** 30);
  writeFileSync(tail, "x", { flag: "a" });
  assert.is(holdsData(tail), true);
  writeFileSync(join(work, "small"), "x");
  assert.is(holdsData(join(work, "small")), true);
});

test("a path it cannot open (missing, a symlink) is said to hold data: the safe answer for sizing a disk", () => {
  assert.is(holdsData(join(work, "missing")), true);
  symlinkSync(join(work, "hole"), join(work, "link"));
  assert.is(holdsData(join(work, "link")), true);
});

test.run();
