// VM test files run inside the emulated hardware-KVM host
// (lib/reference/emulated-kvm-host) instead of on this machine: how a machine
// without /dev/kvm runs them (`node dist/test/run.js --emulated-host`). One
// host runs the files in turn, each in its own Node process with its own
// TMPDIR. A file that has finished leaves its status in the shared
// directory, so a host that stalls or panics (QEMU's software CPU and the
// host kernel under it do, now and then, under load) is replaced and only
// the files it had not finished run again. A file that fails there runs once
// more, on a fresh host, and its first try is kept for the log: the software
// CPU under nested SVM now and then triple-faults a guest or panics its own
// kernel (lib/reference/emulated-kvm-host/README.md), which is not the
// product; a file that fails twice fails.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEndedRun, reportStalls, runOnEmulatedKvmHost } from "../lib/reference/emulated-kvm-host/run.js";
import { productCacheLines } from "../lib/reference/emulated-kvm-host/product-cache.js";

export interface EmulatedFileRun {
  file: string;
  /** What the file printed (stdout and stderr), or why it has no result. */
  out: string;
  /** Its exit status; null when it never finished. */
  code: number | null;
  ms: number;
  /** When the file failed on its first try and ran again: what that try printed. */
  firstTry?: string;
}

/** Set (to 1) for the test files that run in the emulated host. */
export const EMULATED_HOST_VARIABLE = "BENCHER_TEST_IN_EMULATED_HOST";

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** Room for the VM tests' own guests: the largest, high-memory's, is 4 GiB (QEMU backs the host's RAM only as it is touched). */
const HOST_MEMORY_MIB = 8192;
/** Hosts tried in all for one pass over the files (each stall is retried by runOnEmulatedKvmHost as well). */
const MAX_HOSTS = 3;

/** Runs `files` (compiled test files) on the emulated host, each given `perFileMs`; those that fail run once more on a fresh host. */
export function runFilesInEmulatedHost(files: string[], perFileMs: number): Promise<EmulatedFileRun[]> {
  return withSecondTry(files, (some) => runPass(some, perFileMs));
}

/** The files through `pass`, then the ones that failed through a second pass, keeping their first try's output. */
export async function withSecondTry(files: string[], pass: (files: string[]) => Promise<EmulatedFileRun[]>): Promise<EmulatedFileRun[]> {
  const first = await pass(files);
  const failed = first.filter((r) => r.code !== 0);
  if (failed.length === 0) return first;
  console.error(`emulated KVM host: ${failed.length} file(s) failed there; each runs once more, on a fresh host`);
  const again = new Map((await pass(failed.map((r) => r.file))).map((r) => [r.file, r]));
  return first.map((r) => {
    const second = again.get(r.file);
    return second ? { ...second, firstTry: r.out } : r;
  });
}

/** One pass: the files in turn on one host, and the unfinished ones on a fresh host when it dies (MAX_HOSTS in all). */
async function runPass(files: string[], perFileMs: number): Promise<EmulatedFileRun[]> {
  const shared = mkdtempSync(join(tmpdir(), "bencher-emulated-tests-"));
  // The runner ends on Ctrl-C with process.exit, past any finally (execa stops QEMU then).
  const removeShared = () => rmSync(shared, { recursive: true, force: true });
  process.once("exit", removeShared);
  try {
    const script = join(shared, "run.sh");
    const lines = files.flatMap((file, i) => {
      const [out, status, ms] = [`${i}.out`, `${i}.status`, `${i}.ms`].map((name) => quote(join(shared, name)));
      return [
        `if [ ! -e ${status} ]; then`,
        `  t=$(mktemp -d); chmod 1777 "$t"; start=$(date +%s%N)`,
        `  TMPDIR="$t" timeout -s KILL ${Math.ceil(perFileMs / 1000)} node --enable-source-maps ${quote(file)} > ${out} 2>&1; code=$?`,
        `  echo $(( ($(date +%s%N) - start) / 1000000 )) > ${ms}; rm -rf "$t"; echo $code > ${status}`,
        "fi",
      ];
    });
    // Tests serve registries and sockets on loopback, and need a writable cache with this machine's kernel and guest-init.
    // EMULATED_HOST_VARIABLE: tests that start VMs side by side start fewer at once there, or keep them on one CPU (the host is steadier so).
    writeFileSync(script, [...productCacheLines(), `export ${EMULATED_HOST_VARIABLE}=1`, ...lines, "exit 0"].join("\n") + "\n");
    const unfinished = () => files.filter((_, i) => !existsSync(join(shared, `${i}.status`))).length;
    let run;
    for (let host = 1; ; host++) {
      run = await runOnEmulatedKvmHost({ script, shared, memoryMiB: HOST_MEMORY_MIB, timeoutMs: unfinished() * perFileMs + 5 * 60_000, stallRetries: 3 });
      reportStalls(run);
      // A host that ended without the script's status (its kernel panicked) ran only some of the files.
      if (run.exitCode !== undefined || run.timedOut || unfinished() === 0 || host >= MAX_HOSTS) break;
      console.error(`emulated KVM host: ${unfinished()} file(s) not finished run on a fresh host: ${describeEndedRun(run, 1500).replace(/\n/g, "\n  ")}`);
    }
    return files.map((file, i) => {
      const status = join(shared, `${i}.status`);
      if (!existsSync(status)) return { file, out: `never finished on the emulated host: ${describeEndedRun(run)}`, code: null, ms: 0 };
      const code = Number(readFileSync(status, "utf8").trim());
      const out = readFileSync(join(shared, `${i}.out`), "utf8") + (code === 137 ? `\n  timed out after ${perFileMs / 60_000} min: killed\n` : "");
      return { file, out, code, ms: Number(readFileSync(join(shared, `${i}.ms`), "utf8").trim()) };
    });
  } finally {
    process.removeListener("exit", removeShared);
    removeShared();
  }
}
