// The guest half of virtio-vsock for tests: posts rx buffers like Linux does,
// sends packets on tx, and collects what the device delivers.

import { VirtioVsock } from "../../../../stages/boot/devices/virtio-vsock.js";
import {
  HOST_CID,
  OP_CREDIT_UPDATE,
  OP_REQUEST,
  OP_RESPONSE,
  OP_RST,
  OP_RW,
  OP_SHUTDOWN,
  VSOCK_HEADER_SIZE,
  VSOCK_TYPE_STREAM,
  decodeHeader,
  encodeHeader,
  type VsockHeader,
} from "../../../../stages/boot/devices/virtio-vsock-packet.js";
import { TestDriver, type PlacedBuffer } from "../virtio/test-driver.js";

export const GUEST_CID = 3n;
export const RX_BUFFER_SIZE = 4096;

export interface Received {
  header: VsockHeader;
  payload: Buffer;
}

export type PacketFields = Partial<VsockHeader> & { op: number; srcPort: number; dstPort: number };

export class VsockGuest {
  readonly driver: TestDriver;
  readonly received: Received[] = [];
  private readonly rxBuffers = new Map<number, PlacedBuffer>();
  private readonly spare: PlacedBuffer[] = [];

  constructor(readonly device: VirtioVsock, options: { rxBuffers?: number; memorySize?: number } = {}) {
    this.driver = new TestDriver(device, { memorySize: options.memorySize ?? 8 << 20, queueSize: 64 });
    this.postRx(options.rxBuffers ?? 32);
  }

  /** Gives the device `n` more rx buffers (one writable descriptor each, as Linux 6.1 does). */
  postRx(n: number): void {
    const q = this.driver.queues[0];
    for (let i = 0; i < n; i++) {
      const b = this.spare.pop() ?? { addr: this.driver.alloc.alloc(RX_BUFFER_SIZE, 8), len: RX_BUFFER_SIZE, writable: true };
      this.rxBuffers.set(q.addBuffers([b]), b);
    }
    this.driver.kick(0);
  }

  /** Sends one packet: header and payload in two readable descriptors. */
  send(fields: PacketFields, payload?: Uint8Array): void {
    this.queuePacket(fields, payload);
    this.driver.kick(1);
    this.driver.queues[1].takeUsed();
  }

  /** Makes one packet available on tx without notifying the device; returns its head. */
  queuePacket(fields: PacketFields, payload?: Uint8Array): number {
    const header: VsockHeader = {
      srcCid: GUEST_CID,
      dstCid: HOST_CID,
      len: payload?.length ?? 0,
      type: VSOCK_TYPE_STREAM,
      flags: 0,
      bufAlloc: 256 * 1024,
      fwdCnt: 0,
      ...fields,
    };
    const specs = [{ data: encodeHeader(header) }];
    if (payload && payload.length) specs.push({ data: payload });
    return this.driver.queues[1].addChain(specs).head;
  }

  /** Collects rx packets the device delivered and re-posts their buffers. */
  collect(): Received[] {
    const q = this.driver.queues[0];
    const fresh: Received[] = [];
    for (const { id, len } of q.takeUsed()) {
      const b = this.rxBuffers.get(id)!;
      this.rxBuffers.delete(id);
      this.spare.push(b);
      if (len < VSOCK_HEADER_SIZE) continue;
      const bytes = this.driver.memory.read(b.addr, len);
      const header = decodeHeader(bytes);
      fresh.push({ header, payload: Buffer.from(bytes.subarray(VSOCK_HEADER_SIZE, VSOCK_HEADER_SIZE + header.len)) });
    }
    this.received.push(...fresh);
    if (fresh.length) this.postRx(fresh.length);
    return fresh;
  }

  /** Waits (the event loop turns) until a received packet matches, and returns it. */
  async waitFor(what: string, match: (r: Received) => boolean, timeoutMs = 3000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.collect();
      const i = this.received.findIndex(match);
      if (i >= 0) return this.received.splice(i, 1)[0];
      if (Date.now() > deadline) {
        const seen = this.received.map((r) => `op${r.header.op} ${r.header.srcPort}->${r.header.dstPort} len${r.header.len}`).join(", ");
        throw new Error(`timed out waiting for ${what}; received: [${seen}]`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** Collects everything for `ms` milliseconds. */
  async settle(ms = 50): Promise<Received[]> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      this.collect();
      await new Promise((r) => setTimeout(r, 2));
    }
    this.collect();
    return this.received.splice(0);
  }
}

export const isOp = (op: number, port?: number) => (r: Received) => r.header.op === op && (port === undefined || r.header.dstPort === port);
export { OP_CREDIT_UPDATE, OP_REQUEST, OP_RESPONSE, OP_RST, OP_RW, OP_SHUTDOWN };
