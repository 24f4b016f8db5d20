// Guest virtual memory as the vCPU sees it right now: linear addresses
// translated through the guest's page tables (KVM_TRANSLATE), then checked
// against guest RAM.
import { GuestMemory } from "../guest-memory.js";
import { Vcpu } from "../kvm/vcpu.js";

export class GuestFault extends Error {
  constructor(readonly linear: bigint, readonly write: boolean) {
    super(`guest address 0x${linear.toString(16)} is not mapped${write ? " writable" : ""}`);
  }
}

const PAGE = 4096n;

function translate(vcpu: Vcpu, linear: bigint, write: boolean, paging: boolean): number {
  if (!paging) return Number(linear);
  const t = vcpu.translate(linear);
  if (!t.valid || (write && !t.writeable)) throw new GuestFault(linear, write);
  return Number(t.physical);
}

/** Reads or writes `len` bytes at a linear address, page by page. */
export function accessLinear(vcpu: Vcpu, mem: GuestMemory, linear: bigint, len: number, paging: boolean, write?: Uint8Array): Uint8Array {
  const out = write ?? new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const addr = BigInt.asUintN(64, linear + BigInt(done));
    const inPage = Number(PAGE - (addr % PAGE));
    const n = Math.min(inPage, len - done);
    const phys = translate(vcpu, addr, write !== undefined, paging);
    if (!mem.contains(phys, n)) throw new GuestFault(addr, write !== undefined);
    if (write) mem.write(phys, out.subarray(done, done + n));
    else out.set(mem.read(phys, n), done);
    done += n;
  }
  return out;
}
