// Small hand-made guests for the VMM's tests: a few bytes of machine code in
// real or long mode, run on a real VM with a recording port device.
import { Machine, MachineExit } from "../../../stages/boot/machine.js";
import { PioDevice } from "../../../stages/boot/devices/device.js";
import { longModeSregs, realModeSregs, writeLongModeTables } from "../../../stages/boot/loader/cpu-state.js";
import { Regs } from "../../../stages/boot/kvm/structs.js";

/** Where guest code goes: real mode can only reach 64 KiB with CS = 0. */
export const REAL_CODE = 0x1000;
export const LONG_CODE = 0x10000;
/** A port where guests report 32-bit values: `mov dx, 0x500; out dx, eax`. */
export const REPORT_PORT = 0x500;

export class Recorder implements PioDevice {
  readonly name = "test-recorder";
  readonly values: number[] = [];
  readValue = 0x1234abcd;
  pioRead(_port: number, data: Uint8Array): void {
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.length === 4) v.setUint32(0, this.readValue, true);
    else if (data.length === 2) v.setUint16(0, this.readValue & 0xffff, true);
    else data[0] = this.readValue & 0xff;
  }
  pioWrite(_port: number, data: Uint8Array): void {
    let v = 0;
    for (let i = data.length - 1; i >= 0; i--) v = v * 256 + data[i];
    this.values.push(v);
  }
}

export interface GuestRun {
  exit: MachineExit;
  console: string;
  recorder: Recorder;
  wallMs: number;
  machine: Machine;
}

export interface GuestOptions {
  code: number[];
  mode: "real" | "long";
  vcpus?: number;
  memoryMiB?: number;
  /** The Machine's hostAvailableMiB (default: the host's MemAvailable). */
  hostAvailableMiB?: number;
  timeoutMs?: number;
  assists?: boolean;
  /** Catch doorbell writes with ioeventfds (default: the Machine's default, on). */
  ioeventfd?: boolean;
  /** Let vCPU threads answer reads of published registers (default: the Machine's default, on). */
  mirroredReads?: boolean;
  /** run()'s hold: the vCPUs start when it resolves. */
  hold?: Promise<unknown>;
  regs?: (index: number) => Partial<Regs>;
  setup?: (machine: Machine) => void;
  /** Inspect the machine after the run, before it is closed. */
  after?: (machine: Machine) => void;
}

export async function runGuest(o: GuestOptions): Promise<GuestRun> {
  const chunks: number[] = [];
  const machine = new Machine({
    memoryMiB: o.memoryMiB ?? 16, hostAvailableMiB: o.hostAvailableMiB, vcpus: o.vcpus ?? 1, assists: o.assists ?? true, ioeventfd: o.ioeventfd, mirroredReads: o.mirroredReads,
    console: (b) => chunks.push(...b),
  });
  const recorder = new Recorder();
  try {
    machine.pio.add(REPORT_PORT, 4, recorder);
    const at = o.mode === "long" ? LONG_CODE : REAL_CODE;
    machine.mem.write(at, Uint8Array.from(o.code));
    if (o.mode === "long") writeLongModeTables(machine.mem);
    for (let i = 0; i < machine.vcpuCount; i++) {
      const vcpu = machine.vcpu(i);
      const s = vcpu.getSregs();
      vcpu.setSregs(o.mode === "long" ? longModeSregs(s) : realModeSregs(s));
      vcpu.setRegs({ rip: BigInt(at), rflags: 2n, rsp: 0x8ff0n, ...(o.regs?.(i) ?? {}) });
    }
    o.setup?.(machine);
    const start = performance.now();
    const exit = await machine.run({ timeoutMs: o.timeoutMs ?? 20000, startAll: true, ...(o.hold ? { hold: o.hold } : {}) });
    const wallMs = performance.now() - start;
    o.after?.(machine);
    return { exit, console: Buffer.from(chunks).toString("latin1"), recorder, wallMs, machine };
  } finally {
    machine.close();
  }
}

/** mov al, 0xfe; out 0x64, al; hlt: reset through the i8042, which ends the VM. */
export const RESET = [0xb0, 0xfe, 0xe6, 0x64, 0xf4];
