// guest-init as PID 1, on the host: in fresh PID, mount and network
// namespaces it mounts its filesystems, finds no bencher.port on the host's
// command line, says so on its console and "resets the machine": reboot()
// from a non-initial PID namespace only ends that namespace (the kernel's
// reboot_pid_ns reports RESTART as SIGHUP to the parent), never the host.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { locateGuestInit } from "../../guest-init/locate.js";
import { isRoot } from "./host-harness.js";

if (!isRoot) console.log("pid1.test: skipped, needs root for PID/mount namespaces");
else if (readFileSync("/proc/cmdline", "utf8").includes("bencher.port=")) console.log("pid1.test: skipped, host cmdline has bencher.port");
else
  test("without bencher.port it reports on the console and resets", () => {
    const r = spawnSync(
      "unshare",
      ["--pid", "--fork", "--mount", "--propagation", "private", "--net", locateGuestInit()],
      { encoding: "utf8", timeout: 20_000 },
    );
    const [started, ...rest] = r.stdout.split("\n");
    assert.match(started, /^bencher-init: started at \d+\.\d{3} s$/, "the first console line is the boot-clock phase line");
    assert.is(rest.join("\n"), "bencher-init: no bencher.port=N on the kernel command line\n", r.stderr);
    assert.is(r.signal, "SIGHUP", `reboot(RB_AUTOBOOT) ends the namespace with SIGHUP; got status ${r.status} signal ${r.signal}`);
  });

test.run();
