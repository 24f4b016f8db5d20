// Constants and message shapes of the guest<->host protocol.
// The specification is guest-init/PROTOCOL.md; keep both in step.

export const PROTOCOL_VERSION = 1;
export const FRAME_HEADER_BYTES = 9; // u32 length, u8 type, u32 seq
export const FRAME_MAC_BYTES = 32;
export const RUN_KEY_BYTES = 32;
export const MAX_JOB_BODY_BYTES = 1 << 20;
export const MAX_CHUNK_BYTES = 65536;
/** Largest `length` field a guest frame may have: FILE_DATA with a full chunk. */
export const MAX_GUEST_FRAME_LENGTH = 5 + 4 + MAX_CHUNK_BYTES + FRAME_MAC_BYTES;
export const SERIAL_FRAME_PREFIX = "bencher:";

export const MessageType = {
  READY: 0x01,
  STARTED: 0x02,
  STDOUT: 0x03,
  STDERR: 0x04,
  EXIT: 0x05,
  FILE: 0x06,
  FILE_DATA: 0x07,
  ERROR: 0x08,
  DONE: 0x09,
  JOB: 0x80,
  ACK: 0x81,
  STOP: 0x82,
} as const;

export const JobField = {
  KEY: 1,
  ARG: 2,
  ENV: 3,
  WORKDIR: 4,
  USER: 5,
  OUTPUT: 6,
  ROOTFS_TYPE: 7,
  MAX_OUTPUT: 8,
  MAX_FILE: 9,
} as const;

export type OutputFileStatus = "present" | "missing" | "not-regular" | "unreadable";
export const FILE_STATUSES: readonly OutputFileStatus[] = ["present", "missing", "not-regular", "unreadable"];

export interface ExitReport {
  /** "exited" with `code`, or "signaled" with `signal` (the number). */
  kind: "exited" | "signaled";
  code: number | null;
  signal: number | null;
  wallNs: bigint;
  userUs: bigint;
  sysUs: bigint;
  maxRssKiB: bigint;
  stdoutDroppedBytes: bigint;
  stderrDroppedBytes: bigint;
}

/** One verified guest frame, decoded. */
export type GuestMessage =
  | { type: "ready"; seq: number; version: number }
  | { type: "started"; seq: number }
  | { type: "stdout" | "stderr"; seq: number; data: Buffer }
  | { type: "exit"; seq: number; exit: ExitReport }
  | { type: "file"; seq: number; index: number; status: OutputFileStatus; size: bigint }
  | { type: "file-data"; seq: number; index: number; data: Buffer }
  | { type: "error"; seq: number; text: string }
  | { type: "done"; seq: number };

/** A guest frame that must not be trusted: forged, altered, replayed, out of order or malformed. */
export class GuestProtocolError extends Error {
  override name = "GuestProtocolError";
}

/** A genuine frame the host already has (the serial fallback resends recent frames): harmless, never accepted twice. */
export class GuestDuplicateFrameError extends GuestProtocolError {
  override name = "GuestDuplicateFrameError";
}
