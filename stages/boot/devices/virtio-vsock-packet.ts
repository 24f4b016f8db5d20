// The virtio-vsock packet header (virtio 1.2 §5.10.6) and its numbers.

export const VSOCK_HEADER_SIZE = 44;
/** The host's CID: what the guest connects to. */
export const HOST_CID = 2n;
/** Socket types. Only stream sockets are offered. */
export const VSOCK_TYPE_STREAM = 1;
/** Operations. */
export const OP_REQUEST = 1;
export const OP_RESPONSE = 2;
export const OP_RST = 3;
export const OP_SHUTDOWN = 4;
export const OP_RW = 5;
export const OP_CREDIT_UPDATE = 6;
export const OP_CREDIT_REQUEST = 7;
/** SHUTDOWN flags: the sender will receive no more / send no more. */
export const SHUTDOWN_RCV = 1;
export const SHUTDOWN_SEND = 2;
/** Largest payload one packet may carry (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
export const MAX_PAYLOAD = 64 * 1024;

export interface VsockHeader {
  srcCid: bigint;
  dstCid: bigint;
  srcPort: number;
  dstPort: number;
  len: number;
  type: number;
  op: number;
  flags: number;
  bufAlloc: number;
  fwdCnt: number;
}

export function decodeHeader(bytes: Uint8Array): VsockHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, VSOCK_HEADER_SIZE);
  return {
    srcCid: v.getBigUint64(0, true),
    dstCid: v.getBigUint64(8, true),
    srcPort: v.getUint32(16, true),
    dstPort: v.getUint32(20, true),
    len: v.getUint32(24, true),
    type: v.getUint16(28, true),
    op: v.getUint16(30, true),
    flags: v.getUint32(32, true),
    bufAlloc: v.getUint32(36, true),
    fwdCnt: v.getUint32(40, true),
  };
}

export function encodeHeader(h: VsockHeader): Uint8Array {
  const bytes = new Uint8Array(VSOCK_HEADER_SIZE);
  const v = new DataView(bytes.buffer);
  v.setBigUint64(0, h.srcCid, true);
  v.setBigUint64(8, h.dstCid, true);
  v.setUint32(16, h.srcPort >>> 0, true);
  v.setUint32(20, h.dstPort >>> 0, true);
  v.setUint32(24, h.len >>> 0, true);
  v.setUint16(28, h.type, true);
  v.setUint16(30, h.op, true);
  v.setUint32(32, h.flags >>> 0, true);
  v.setUint32(36, h.bufAlloc >>> 0, true);
  v.setUint32(40, h.fwdCnt >>> 0, true);
  return bytes;
}
