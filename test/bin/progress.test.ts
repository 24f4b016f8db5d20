import { test } from "uvu";
import * as assert from "uvu/assert";
import { createReporter, statusLineWidth } from "../../bin/cli/progress.js";

function fakeStream(isTTY: boolean) {
  const written: string[] = [];
  return { stream: { isTTY, columns: 40, write: (s: string) => { written.push(s); return true; } } as unknown as NodeJS.WriteStream, written };
}

test("on a terminal: a status line rewritten in place, warnings above it", () => {
  const { stream, written } = fakeStream(true);
  const r = createReporter({ stream });
  r.progress("unpack", 0.5, "layer 1/2");
  r.progress("unpack", null, "writing\nmetadata");
  r.log("unpack", "warn", "odd whiteout");
  r.log("unpack", "info", "not shown without --verbose");
  r.done();
  assert.equal(written, ["[unpack] 50% layer 1/2", "\r\x1b[K", "[unpack] writing metadata", "\r\x1b[K", "bencher-run: unpack: warning: odd whiteout\n"]);
});

test("not on a terminal: no progress, warnings only; --verbose adds info", () => {
  const { stream, written } = fakeStream(false);
  const r = createReporter({ stream });
  r.progress("boot", 0.1, "booting");
  r.log("boot", "info", "hidden");
  r.log("boot", "warn", "slow host");
  r.done();
  assert.equal(written, ["bencher-run: boot: warning: slow host\n"]);
  const verbose = fakeStream(false);
  createReporter({ stream: verbose.stream, verbose: true }).log("boot", "info", "shown");
  assert.equal(verbose.written, ["bencher-run: boot: shown\n"]);
});

test("status line width: the terminal's less one, at least 20; a pty that says 0 columns counts as 80", () => {
  const width = (columns: number | undefined) => statusLineWidth({ columns } as unknown as NodeJS.WriteStream);
  assert.equal([width(120), width(10), width(0), width(undefined)], [119, 20, 79, 79]);
});

test.run();
