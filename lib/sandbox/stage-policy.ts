// Which stage gets which privilege, in one place: only boot gets /dev/kvm,
// only mkrootfs may run mkfs.ext4, and no stage gets the network unless the
// caller says so (pulling from a registry).
import type { SandboxSpec } from "./launch.js";
import { stageCommand } from "./run-sandboxed.js";

export const STAGE_NAMES = ["unpack", "mkrootfs", "boot", "collect"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export interface StagePaths {
  readOnly?: string[];
  writable?: string[];
  /** Required for boot, refused for every other stage. */
  kvmFd?: number;
  network?: boolean;
  env?: Record<string, string>;
  /** Defaults to the compiled stage (stageCommand(name)); tests substitute small programs. */
  command?: string[];
}

export function stageSandboxSpec(stage: StageName, paths: StagePaths): SandboxSpec {
  if (paths.kvmFd !== undefined && stage !== "boot") throw new Error(`${stage}: only the boot stage may receive /dev/kvm`);
  if (paths.kvmFd === undefined && stage === "boot") throw new Error("boot: needs an open /dev/kvm descriptor (kvmFd)");
  return {
    stage,
    command: paths.command ?? stageCommand(stage),
    readOnly: paths.readOnly,
    writable: paths.writable,
    allowMkfs: stage === "mkrootfs",
    kvmFd: paths.kvmFd,
    network: paths.network ?? false,
    env: paths.env,
  };
}
