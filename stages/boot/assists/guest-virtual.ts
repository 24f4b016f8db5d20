// Guest virtual memory as the vCPU sees it right now: linear addresses
// translated through the guest's page tables (KVM_TRANSLATE), then checked
// against guest RAM.
import { GuestMemory } from "../guest-memory.js";
import { Vcpu } from "../kvm/vcpu.js";

/** The guest's page tables refuse the access: the guest should take a page fault. */
export class GuestFault extends Error {
  constructor(readonly linear: bigint, readonly write: boolean, readonly present: boolean) {
    super(`guest address 0x${linear.toString(16)} is not mapped${write ? " writable" : ""}`);
  }

  /** The #PF error code for this fault (P, W/R, U/S). */
  errorCode(cpl: number): number {
    return (this.present ? 1 : 0) | (this.write ? 2 : 0) | (cpl === 3 ? 4 : 0);
  }
}

const PAGE = 4096n;

function translate(vcpu: Vcpu, linear: bigint, write: boolean, paging: boolean): number {
  if (!paging) return Number(linear);
  const t = vcpu.translate(linear);
  if (!t.valid || (write && !t.writeable)) throw new GuestFault(linear, write, t.valid);
  return Number(t.physical);
}

/**
 * Reads or writes `len` bytes at a linear address, page by page. `forWrite`
 * reads memory the instruction is about to write (XSAVE): a page that may
 * not be written then faults as the write would.
 */
export function accessLinear(vcpu: Vcpu, mem: GuestMemory, linear: bigint, len: number, paging: boolean, write?: Uint8Array, forWrite = false): Uint8Array {
  const out = write ?? new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const addr = BigInt.asUintN(64, linear + BigInt(done));
    const inPage = Number(PAGE - (addr % PAGE));
    const n = Math.min(inPage, len - done);
    const phys = translate(vcpu, addr, write !== undefined || forWrite, paging);
    // Mapped, but not to guest RAM (a device): not something an assist can do.
    if (!mem.contains(phys, n)) throw new Error(`guest address 0x${addr.toString(16)} maps to 0x${phys.toString(16)}, outside guest RAM`);
    if (write) mem.write(phys, out.subarray(done, done + n));
    else out.set(mem.read(phys, n), done);
    done += n;
  }
  return out;
}
