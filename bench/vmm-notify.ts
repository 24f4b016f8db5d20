// Micro-benchmark: what one virtio queue notification (a 4-byte write to a
// virtio-mmio QueueNotify register) costs the guest, caught by an ioeventfd
// (no exit to the VMM) and as a posted MMIO exit (the fallback path).
// A long-mode guest writes the doorbell N times in a loop, then resets; the
// cost per write is (time for N - time for 0) / N, best of --runs.
//
//   node dist/bench/vmm-notify.js [--writes N] [--runs N]
//
// Needs /dev/kvm. Not part of `npm run bench` (a VMM internals figure, not a
// comparison with a peer).
import { parseArgs } from "node:util";
import { Machine } from "../stages/boot/machine.js";
import { longModeSregs, writeLongModeTables } from "../stages/boot/loader/cpu-state.js";

const { values } = parseArgs({ options: { writes: { type: "string", default: "20000" }, runs: { type: "string", default: "3" } } });
const writes = Number(values.writes);
const runs = Number(values.runs);
if (!Number.isInteger(writes) || writes < 1 || !Number.isInteger(runs) || runs < 1) {
  console.error("vmm-notify: --writes and --runs must be whole numbers of at least 1");
  process.exit(1);
}

const CODE = 0x10000;
const DOORBELL = 0x50;

/** mov rbx, 0xd0000000; mov ecx, n; loop: mov dword [rbx+0x50], 0; dec ecx; jnz loop; then reset. */
function doorbellLoop(n: number): number[] {
  const skip = n === 0 ? [0xeb, 0x0b] : []; // n = 0: jump over the loop
  return [
    0x48, 0xbb, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x00, 0x00, 0x00,
    0xb9, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff,
    ...skip,
    0xc7, 0x43, DOORBELL, 0x00, 0x00, 0x00, 0x00, // 7 bytes
    0xff, 0xc9, // dec ecx
    0x75, 0xf5, // jnz loop
    0xb0, 0xfe, 0xe6, 0x64, 0xf4, // reset through the i8042
  ];
}

async function once(n: number, ioeventfd: boolean): Promise<{ ms: number; rings: number; caught: number; path: string }> {
  const machine = new Machine({ memoryMiB: 16, vcpus: 1, assists: false, ioeventfd, console: () => {} });
  try {
    let rings = 0;
    machine.addMmioDevice(() => ({
      name: "bench-doorbell",
      mmioRead: (_o, d) => d.fill(0),
      mmioWrite: (offset, d) => {
        if (offset === DOORBELL && d[0] === 0) rings++;
      },
      notifyRegister: { offset: DOORBELL, values: 1, ring: () => rings++ },
    }));
    machine.mem.write(CODE, Uint8Array.from(doorbellLoop(n)));
    writeLongModeTables(machine.mem);
    const vcpu = machine.vcpu(0);
    vcpu.setSregs(longModeSregs(vcpu.getSregs()));
    vcpu.setRegs({ rip: BigInt(CODE), rflags: 2n, rsp: 0x8ff0n });
    const start = performance.now();
    const exit = await machine.run({ timeoutMs: 600_000 });
    const ms = performance.now() - start;
    if (exit.exitReason !== "reset") throw new Error(`guest ended with ${exit.exitReason}: ${exit.detail ?? ""}`);
    return { ms, rings, caught: machine.notifyEvents.writesCaught, path: machine.notifyEvents.describe() };
  } finally {
    machine.close();
  }
}

async function perWrite(ioeventfd: boolean): Promise<{ us: number; rings: number; caught: number; path: string }> {
  let best = Infinity;
  let last = { rings: 0, caught: 0, path: "" };
  for (let r = 0; r < runs; r++) {
    const empty = await once(0, ioeventfd);
    const full = await once(writes, ioeventfd);
    best = Math.min(best, ((full.ms - empty.ms) * 1000) / writes);
    last = full;
  }
  return { us: best, ...last };
}

for (const ioeventfd of [true, false]) {
  const r = await perWrite(ioeventfd);
  console.log(`${r.path}: ${r.us.toFixed(2)} us per doorbell write (${writes} writes, best of ${runs}; KVM caught ${r.caught} of them; the device was rung ${r.rings} times)`);
}
