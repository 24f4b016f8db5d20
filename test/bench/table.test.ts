// The printed table: alignment, unit formats, and how a row becomes cells.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatBytes, formatMiB, formatPercent, formatRatio, formatSeconds, formatTable } from "../../bench/lib/table.js";
import { MAIN_HEADERS, mainTableRows, summarizeRow } from "../../bench/lib/report.js";

test("formatTable pads every column to its widest cell, right-aligned where asked", () => {
  const text = formatTable(["name", "n"], [["a", "1"], ["long name", "100"]], ["left", "right"]);
  assert.is(text, [
    "| name      |   n |",
    "|-----------|----:|",
    "| a         |   1 |",
    "| long name | 100 |",
  ].join("\n"));
  assert.throws(() => formatTable(["a", "b"], [["only one"]]), /1 cells/);
});

test("unit formats", () => {
  assert.is(formatSeconds(0.0000123), "12 µs");
  assert.is(formatSeconds(0.0042), "4.20 ms");
  assert.is(formatSeconds(0.85), "850 ms");
  assert.is(formatSeconds(1.234), "1.23 s");
  assert.is(formatSeconds(74.25), "74.3 s");
  assert.is(formatSeconds(undefined), "–");
  assert.is(formatSeconds(NaN), "–");
  assert.is(formatMiB(2048), "2.0 MiB");
  assert.is(formatMiB(300 * 1024), "300 MiB");
  assert.is(formatRatio(1.2345), "1.23×");
  assert.is(formatRatio(NaN), "–");
  assert.is(formatPercent(0.0123), "1.23 %");
  assert.is(formatBytes(1 << 30), "1 GiB");
  assert.is(formatBytes(10 << 20), "10 MiB");
  assert.is(formatBytes(1536 << 10), "1.5 MiB");
});

test("a row: medians of each side, the largest peak, the ratio of medians", () => {
  const summary = summarizeRow({
    benchmark: "unpack",
    ours: { label: "ours", samples: [{ seconds: 3, peakKiB: 1024 }, { seconds: 1, peakKiB: 4096 }, { seconds: 2, peakKiB: 2048 }] },
    peer: { label: "peer", samples: [{ seconds: 4 }, { seconds: 4 }, { seconds: 5 }] },
  });
  assert.is(summary.ours!.medianSeconds, 2);
  assert.is(summary.ours!.peakKiB, 4096);
  assert.is(summary.peer!.medianSeconds, 4);
  assert.is(summary.peer!.peakKiB, undefined);
  assert.is(summary.ratio, 0.5);
  const [cells] = mainTableRows([summary]);
  assert.equal(cells, ["unpack", "ours", "2.00 s", "4.0 MiB", "peer", "4.00 s", "–", "0.50×", "3/3"]);
  assert.is(cells.length, MAIN_HEADERS.length);
});

test("a skipped row says why and has no figures", () => {
  const summary = summarizeRow({ benchmark: "end to end", skipped: "skipped: pipeline not available" });
  assert.is(summary.ratio, undefined);
  const [cells] = mainTableRows([summary]);
  assert.is(cells[1], "skipped: pipeline not available");
  assert.is(cells.length, MAIN_HEADERS.length);
});

test.run();
