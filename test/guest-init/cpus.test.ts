// guest-init's CPU-list parser (bencher.cpus=, --cpus): the kernel's list
// syntax accepted and written back canonically; anything else refused.
import { spawnSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { locateGuestInit } from "../../guest-init/locate.js";

function parse(list: string): { status: number | null; out: string; err: string } {
  const r = spawnSync(locateGuestInit(), ["--cpulist-test", list], { encoding: "utf8" });
  return { status: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

test("single CPUs, ranges and mixes, written back as the kernel writes them", () => {
  for (const [list, canonical] of [["1", "1"], ["0", "0"], ["1-3", "1-3"], ["0,2-3", "0,2-3"], ["1,2,3,5", "1-3,5"], ["3,1", "1,3"], ["5-5", "5"], ["127", "127"]]) {
    const r = parse(list);
    assert.is(r.status, 0, `${list}: ${r.err}`);
    assert.is(r.out, canonical, list);
  }
});

test("not a CPU list: exit 2 and one line naming the list", () => {
  for (const list of ["", "1-", "-1", "3-1", "1,", ",1", "1 2", "a", "128", "99999999999999999999", "+1", "1-2-3"]) {
    const r = parse(list);
    assert.is(r.status, 2, `${JSON.stringify(list)} accepted as ${r.out}`);
    assert.is(r.out, "");
    assert.match(r.err, /^bencher-init: CPU list .*: expected numbers and ranges such as 1 or 1-3,5$/);
  }
});

test.run();
