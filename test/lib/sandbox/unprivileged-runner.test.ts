// The sandbox must hold for an ordinary user too, not only for root. Run as
// root, this re-runs the boundary suite and the launch suite (signals, a
// killed coordinator) as uid 65534: an ordinary user whose stages are that
// same uid inside their namespaces.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { mkdtempSync, chownSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const suites = ["boundaries", "launch"].map((name) => fileURLToPath(new URL(`./${name}.test.js`, import.meta.url)));

for (const suite of suites) test(`${suite.split("/").pop()} passes when the runner is an ordinary user`, async () => {
  if (process.getuid!() !== 0) {
    console.log(`  (already an ordinary user: ${suite.split("/").pop()} itself covers this case)`);
    return;
  }
  // An ordinary user must be able to read the checkout (a clone under /root is not).
  const readable = await execa("setpriv", ["--reuid=65534", "--regid=65534", "--groups=65534", "--", "test", "-r", suite], { reject: false });
  if (readable.exitCode !== 0) {
    console.log(`  NOT RUN: ${suite} is not readable by uid 65534 (checkout in a private directory); run the suite from a world-readable checkout`);
    return;
  }
  const cache = mkdtempSync(join(tmpdir(), "sandbox-user-cache-"));
  chownSync(cache, 65534, 65534);
  try {
    const r = await execa("setpriv", ["--reuid=65534", "--regid=65534", "--groups=65534", "--", process.execPath, suite], {
      env: { BENCHER_RUN_CACHE: cache, HOME: cache, TMPDIR: "/tmp" },
      reject: false,
      all: true,
    });
    assert.is(r.exitCode, 0, r.all);
    assert.match(r.all, /Skipped:\s+0/);
    assert.not.match(r.all, /FAIL/);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test.run();
