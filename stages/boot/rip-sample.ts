// Where a vCPU was when sampled (BENCHER_BOOT_DEBUG): the debug log line
// boot() writes for each sample, and its reading back by the boot profiler
// (kernel/boot-profile/).

export interface RipSample {
  vcpu: number;
  rip: bigint;
  cpl: number;
}

export function ripSampleMessage(vcpu: number, sample: { rip: string; cpl: number }): string {
  return `vCPU ${vcpu} at rip ${sample.rip} (CPL ${sample.cpl})`;
}

/** The sample in a debug log line, or undefined for any other line. */
export function parseRipSampleMessage(message: string): RipSample | undefined {
  const m = /^vCPU (\d+) at rip ([0-9a-f]+) \(CPL (\d)\)$/.exec(message);
  return m ? { vcpu: Number(m[1]), rip: BigInt("0x" + m[2]), cpl: Number(m[3]) } : undefined;
}
