// Handles one emulation-failure exit: fetch the instruction at RIP through
// the guest's page tables, decode it (iced-x86), and run the assist for it.
import { Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction, Code } from "iced-x86";
import { GuestMemory } from "../guest-memory.js";
import { Vcpu } from "../kvm/vcpu.js";
import { CpuView } from "./cpu-view.js";
import { GuestFault } from "./guest-virtual.js";
import { assistFor } from "./index.js";

export type AssistResult = { handled: true; name: string } | { handled: false; why: string };

let formatter: Formatter | undefined;

function fetch(cpu: CpuView): Uint8Array {
  // Up to 15 bytes, but not into a page that is not mapped.
  const rip = cpu.ripLinear;
  const toPageEnd = Number(4096n - (rip % 4096n));
  try {
    return cpu.readLinear(rip, 15);
  } catch {
    return cpu.readLinear(rip, Math.min(15, toPageEnd));
  }
}

export function performAssist(vcpu: Vcpu, mem: GuestMemory): AssistResult {
  let cpu: CpuView;
  let bytes: Uint8Array;
  try {
    cpu = new CpuView(vcpu, mem);
    bytes = fetch(cpu);
  } catch (err) {
    return { handled: false, why: `cannot read the instruction: ${err instanceof Error ? err.message : String(err)}` };
  }
  const rip = cpu.regs.rip;
  const decoder = new Decoder(cpu.bitness, bytes, DecoderOptions.None);
  decoder.ip = rip;
  const ins: Instruction = decoder.decode();
  try {
    const hex = Buffer.from(bytes.subarray(0, ins.code === Code.INVALID ? bytes.length : ins.length)).toString("hex");
    const where = `at rip 0x${rip.toString(16)} (bytes ${hex})`;
    if (ins.code === Code.INVALID) return { handled: false, why: `undecodable instruction ${where}` };
    const text = (formatter ??= new Formatter(FormatterSyntax.Intel)).format(ins);
    const assist = assistFor(ins.mnemonic);
    if (!assist) return { handled: false, why: `no assist for "${text}" ${where}` };
    let outcome;
    try {
      outcome = assist.perform(cpu, ins);
    } catch (err) {
      // Memory the guest's page tables refuse: the guest takes the page fault the CPU would raise.
      if (err instanceof GuestFault) outcome = { fault: { vector: 14, errorCode: err.errorCode(cpu.cpl), cr2: err.linear } };
      else return { handled: false, why: `assist ${assist.name} failed for "${text}" ${where}: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (!outcome?.fault) cpu.regs.rip = BigInt.asUintN(64, rip + BigInt(ins.length));
    cpu.commit();
    if (outcome?.fault?.cr2 !== undefined) vcpu.setSregs({ ...cpu.sregs, cr2: outcome.fault.cr2 });
    if (outcome?.fault) vcpu.injectException(outcome.fault.vector, outcome.fault.errorCode);
    else if (outcome?.trap) vcpu.injectException(outcome.trap.vector);
    return { handled: true, name: assist.name };
  } finally {
    ins.free();
    decoder.free();
  }
}
