// Encodes the frames the host sends to guest-init: the JOB, and the ACK that
// confirms every guest frame arrived (PROTOCOL.md).
import { randomBytes } from "node:crypto";
import { FRAME_HEADER_BYTES, JobField, MAX_JOB_BODY_BYTES, MessageType, RUN_KEY_BYTES } from "./messages.js";

export type RootfsType = "ext4" | "squashfs";

export interface GuestJob {
  /** Final argv: apply Docker's rules first with resolveRunSpec(). */
  argv: string[];
  /** "NAME=value" entries. */
  env: string[];
  workingDir: string;
  /** Docker --user syntax, resolved by guest-init against the image's /etc/passwd and /etc/group. */
  user: string;
  /** Absolute paths inside the image, returned in this order. */
  outputPaths: string[];
  rootfsType: RootfsType;
  /** Bytes kept per stream (stdout, stderr); the rest is counted, not sent. */
  maxOutputBytes: number | bigint;
  /** Bytes sent per output file. */
  maxFileBytes: number | bigint;
  /** The per-run key, from newRunKey(). */
  key: Uint8Array;
}

/** A fresh random key for one run: never reuse it. */
export function newRunKey(): Buffer {
  return randomBytes(RUN_KEY_BYTES);
}

function checkText(value: string, what: string): Buffer {
  if (typeof value !== "string") throw new Error(`guest job: ${what} must be a string`);
  if (value.includes("\0")) throw new Error(`guest job: ${what} ${JSON.stringify(value)} contains a NUL character`);
  return Buffer.from(value, "utf8");
}

function checkLimit(value: number | bigint, what: string): bigint {
  const v = typeof value === "bigint" ? value : Number.isSafeInteger(value) ? BigInt(value) : -1n;
  if (v < 0n || v > 0xffffffffffffffffn) throw new Error(`guest job: ${what} ${value} is not a non-negative integer`);
  return v;
}

function field(tag: number, value: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = tag;
  header.writeUInt32LE(value.length, 1);
  return Buffer.concat([header, value]);
}

/** The whole JOB frame, ready to write to the guest's stream. Throws a one-line error on a bad job. */
export function encodeJob(job: GuestJob): Buffer {
  if (!(job.key instanceof Uint8Array) || job.key.length !== RUN_KEY_BYTES)
    throw new Error(`guest job: key must be ${RUN_KEY_BYTES} bytes`);
  if (!Array.isArray(job.argv) || job.argv.length === 0) throw new Error("guest job: argv is empty");
  if (!job.workingDir.startsWith("/")) throw new Error(`guest job: working directory ${JSON.stringify(job.workingDir)} is not absolute`);
  if (job.rootfsType !== "ext4" && job.rootfsType !== "squashfs")
    throw new Error(`guest job: rootfs type ${JSON.stringify(job.rootfsType)} is not ext4 or squashfs`);
  const fields: Buffer[] = [field(JobField.KEY, Buffer.from(job.key))];
  job.argv.forEach((arg, i) => fields.push(field(JobField.ARG, checkText(arg, `argv[${i}]`))));
  for (const entry of job.env) {
    const bytes = checkText(entry, "env entry");
    if (entry.indexOf("=") <= 0) throw new Error(`guest job: env entry ${JSON.stringify(entry)} is not NAME=value`);
    fields.push(field(JobField.ENV, bytes));
  }
  fields.push(field(JobField.WORKDIR, checkText(job.workingDir, "working directory")));
  fields.push(field(JobField.USER, checkText(job.user, "user")));
  for (const path of job.outputPaths) {
    const bytes = checkText(path, "output path");
    if (!path.startsWith("/")) throw new Error(`guest job: output path ${JSON.stringify(path)} is not absolute`);
    fields.push(field(JobField.OUTPUT, bytes));
  }
  fields.push(field(JobField.ROOTFS_TYPE, Buffer.from(job.rootfsType)));
  for (const [tag, value, what] of [
    [JobField.MAX_OUTPUT, job.maxOutputBytes, "max output bytes"],
    [JobField.MAX_FILE, job.maxFileBytes, "max file bytes"],
  ] as const) {
    const limit = Buffer.alloc(8);
    limit.writeBigUInt64LE(checkLimit(value, what));
    fields.push(field(tag, limit));
  }
  const body = Buffer.concat(fields);
  if (body.length > MAX_JOB_BODY_BYTES) throw new Error(`guest job: ${body.length} bytes, more than the ${MAX_JOB_BODY_BYTES} allowed`);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(5 + body.length, 0);
  header[4] = MessageType.JOB;
  header.writeUInt32LE(0, 5);
  return Buffer.concat([header, body]);
}

/** The ACK frame the host sends once it verified DONE: frameCount = guest frames received (DONE's seq + 1). */
export function encodeAck(frameCount: number): Buffer {
  if (!Number.isInteger(frameCount) || frameCount < 1 || frameCount > 0xffffffff) throw new Error(`guest ack: bad frame count ${frameCount}`);
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + 4);
  frame.writeUInt32LE(frame.length - 4, 0);
  frame[4] = MessageType.ACK;
  frame.writeUInt32LE(1, 5);
  frame.writeUInt32LE(frameCount, FRAME_HEADER_BYTES);
  return frame;
}

/** The STOP frame: the host gave up on the run before DONE; guest-init kills the command and ends the VM (PROTOCOL.md). */
export function encodeStop(): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES);
  frame.writeUInt32LE(frame.length - 4, 0);
  frame[4] = MessageType.STOP;
  frame.writeUInt32LE(1, 5);
  return frame;
}
