// virtio-vsock (virtio 1.2 §5.10) in user space: the guest's stream sockets to
// the host (CID 2), bridged to Unix sockets (see virtio-vsock-unix.ts).
// Queues: 0 = rx (device → guest), 1 = tx (guest → device), 2 = event.
//
// Everything runs on the VMM's main thread: queue notifications arrive from
// the transport, socket events from Node's event loop.

import type { Socket } from "node:net";
import type { DescriptorChain } from "../virtio/chain.js";
import { DEVICE_ID_VSOCK, MAX_QUEUE_SIZE } from "../virtio/constants.js";
import type { VirtioContext, VirtioDevice } from "../virtio/device.js";
import { takeChains, type TakeEnd } from "../virtio/take-chains.js";
import { VsockConnection, connectionKey, type ConnectionOwner, type OutgoingPacket } from "./virtio-vsock-connection.js";
import {
  HOST_CID,
  MAX_PAYLOAD,
  OP_REQUEST,
  OP_RST,
  OP_RW,
  VSOCK_HEADER_SIZE,
  VSOCK_TYPE_STREAM,
  decodeHeader,
  encodeHeader,
  type VsockHeader,
} from "./virtio-vsock-packet.js";
import { UnixBridge, connectToHostPort } from "./virtio-vsock-unix.js";
import { DrainingSockets } from "./virtio-vsock-draining.js";

const RX_QUEUE = 0;
const TX_QUEUE = 1;
/** Bounds memory a guest can make us spend on connections and unanswered RSTs. */
const MAX_CONNECTIONS = 1024;
const MAX_CONTROL_BACKLOG = 256;
/** Host ports we hand out for host-initiated connections start here. */
const FIRST_HOST_PORT = 1 << 30;

export interface VirtioVsockOptions {
  /** The guest's CID: 3 or more. */
  guestCid: number;
  /** Base path of the Unix sockets: host clients connect to it, guest connections go to `<path>_<port>`. */
  udsPath: string;
  /** How long a host client waits for the guest to accept (default 30 s). */
  connectTimeoutMs?: number;
  /** Connections open at once, counting host sockets still draining (default 1024; tests use fewer). */
  maxConnections?: number;
  /** A draining host socket that writes nothing for this long is destroyed (default DRAIN_IDLE_MS). */
  drainIdleMs?: number;
  name?: string;
  /** Why a guest's connection was refused (the guest only sees a reset). */
  log?: (message: string) => void;
}

export class VirtioVsock implements VirtioDevice, ConnectionOwner {
  readonly name: string;
  readonly deviceId = DEVICE_ID_VSOCK;
  readonly queueMaxSizes = [MAX_QUEUE_SIZE, MAX_QUEUE_SIZE, MAX_QUEUE_SIZE];
  /** Stream sockets need no feature bit (§5.10.3); we offer no SEQPACKET. */
  readonly deviceFeatures = 0n;
  readonly guestCid: bigint;
  /** Packets the guest sent that were dropped as malformed (for tests and the log). */
  malformedPackets = 0;

  private readonly connections = new Map<string, VsockConnection>();
  /** Connections with something to send, in turn order. */
  private readonly ready = new Set<VsockConnection>();
  /** Packets that belong to no connection (RST for unknown ports). */
  private readonly controlBacklog: OutgoingPacket[] = [];
  private context: VirtioContext | null = null;
  private bridge: UnixBridge | null = null;
  private nextHostPort = FIRST_HOST_PORT;
  private pumpScheduled = false;
  private pumping = false;
  /** Host sockets of connections the guest closed, still writing its last data. */
  private readonly draining: DrainingSockets;
  private readonly maxConnections: number;
  private readonly connectTimeoutMs: number;
  private readonly udsPath: string;
  private readonly log: (message: string) => void;

  private constructor(options: VirtioVsockOptions) {
    const cid = options.guestCid;
    if (!Number.isInteger(cid) || cid < 3 || cid > 0xffff_fffe) {
      throw new Error(`vsock guest CID ${cid} is invalid: it must be an integer from 3 to 4294967294`);
    }
    this.guestCid = BigInt(cid);
    this.udsPath = options.udsPath;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
    this.draining = new DrainingSockets(options.drainIdleMs);
    this.name = options.name ?? "virtio-vsock";
    this.log = options.log ?? (() => {});
  }

  /** Creates the device and starts listening on `udsPath` for host clients. */
  static async create(options: VirtioVsockOptions): Promise<VirtioVsock> {
    const device = new VirtioVsock(options);
    device.bridge = await UnixBridge.listen(options.udsPath, (socket, port, leftover) => device.hostClient(socket, port, leftover));
    return device;
  }

  /** Stops listening and drops every connection (VMM shutdown). */
  async close(): Promise<void> {
    this.reset();
    await this.bridge?.close();
    this.bridge = null;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Host sockets the guest closed that are still writing its data. */
  get drainingCount(): number {
    return this.draining.size;
  }

  /** What counts against maxConnections. */
  private get openCount(): number {
    return this.connections.size + this.draining.size;
  }

  // ---- VirtioDevice ----

  readConfig(offset: number, data: Uint8Array): void {
    const config = new Uint8Array(8);
    new DataView(config.buffer).setBigUint64(0, this.guestCid, true);
    for (let i = 0; i < data.length; i++) data[i] = config[offset + i] ?? 0;
  }

  writeConfig(): void {}

  activate(context: VirtioContext): void {
    this.context = context;
    this.pump();
  }

  queueNotify(queueIndex: number): void {
    // tx: packets from the guest; rx: fresh buffers for packets to it; event: nothing to do.
    if (queueIndex === TX_QUEUE || queueIndex === RX_QUEUE) this.pump();
  }

  reset(): void {
    this.context = null;
    for (const conn of this.connections.values()) conn.destroy();
    this.connections.clear();
    this.draining.destroyAll();
    this.ready.clear();
    this.controlBacklog.length = 0;
  }

  // ---- ConnectionOwner ----

  wake(conn: VsockConnection): void {
    if (!this.live()) return;
    this.ready.add(conn);
    // Socket events come one by one; send their packets together, soon.
    if (!this.pumping) this.pumpSoon();
  }

  forget(conn: VsockConnection): void {
    if (this.connections.get(conn.key) === conn) this.connections.delete(conn.key);
    this.ready.delete(conn);
  }

  drain(socket: Socket): void {
    this.draining.add(socket);
  }

  // ---- the work ----

  private live(): boolean {
    return this.context !== null && !this.context.failed;
  }

  /**
   * Takes packets from tx and delivers packets to rx, each at most a queue
   * size's worth (see take-chains.ts); what is left goes on in a later turn
   * of the event loop, so a guest cannot keep the main thread here.
   */
  private pump(): void {
    if (!this.live() || this.pumping) return;
    this.pumping = true;
    try {
      const tx = this.processTx();
      const rx = this.fillRx();
      // tx pauses while unanswered control packets pile up; it goes on once rx took some.
      const txMore = tx === "budget" || (tx === "paused" && this.controlBacklog.length < MAX_CONTROL_BACKLOG);
      if (this.live() && (txMore || rx === "budget")) this.pumpSoon();
    } finally {
      this.pumping = false;
    }
  }

  /** Pumps on a later turn of the event loop (once, however often asked before). */
  private pumpSoon(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Handles available tx chains, pausing while the control backlog is full. */
  private processTx(): TakeEnd {
    const ctx = this.context!;
    const tx = ctx.queues[TX_QUEUE];
    const end = takeChains(ctx, tx, (chain) => {
      this.guestPacket(chain);
      tx.addUsed(chain.head, 0);
    }, () => this.controlBacklog.length >= MAX_CONTROL_BACKLOG);
    if (end !== "failed") ctx.notifyDriver(tx);
    return end;
  }

  /** Parses one tx chain and hands it to its connection. */
  private guestPacket(chain: DescriptorChain): void {
    if (chain.readableLength < VSOCK_HEADER_SIZE) {
      this.malformedPackets++;
      return;
    }
    const h = decodeHeader(chain.readBytes(0, VSOCK_HEADER_SIZE));
    let payload: Uint8Array | null = null;
    if (h.op === OP_RW) {
      if (h.len > MAX_PAYLOAD || h.len > chain.readableLength - VSOCK_HEADER_SIZE) {
        this.malformedPackets++;
        this.connections.get(connectionKey(h.dstPort, h.srcPort))?.reset();
        return;
      }
      payload = chain.readBytes(VSOCK_HEADER_SIZE, h.len);
    }
    // Only packets from this guest to the host are ours to handle.
    if (h.srcCid !== this.guestCid || h.dstCid !== HOST_CID) {
      this.malformedPackets++;
      return;
    }
    if (h.type !== VSOCK_TYPE_STREAM) {
      this.malformedPackets++;
      return this.replyRst(h);
    }
    const conn = this.connections.get(connectionKey(h.dstPort, h.srcPort));
    if (conn) return conn.onGuestPacket(h, payload);
    if (h.op === OP_REQUEST) return this.guestConnect(h);
    this.replyRst(h);
  }

  /** A guest connects to host port P: connect to the Unix socket `<path>_P`. */
  private guestConnect(h: VsockHeader): void {
    if (this.openCount >= this.maxConnections) {
      this.log(`guest connection to port ${h.dstPort} refused: ${this.maxConnections} connections already open (${this.draining.size} of them draining)`);
      return this.replyRst(h);
    }
    const conn = VsockConnection.fromGuestRequest(this, this.guestCid, h);
    this.connections.set(conn.key, conn);
    const socket = connectToHostPort(this.udsPath, h.dstPort);
    socket.once("connect", () => {
      socket.removeAllListeners("error");
      conn.hostConnected(socket);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      this.log(`guest connection to port ${h.dstPort} (from its port ${h.srcPort}) refused: ${this.udsPath}_${h.dstPort}: ${err.code ?? err.message}`);
      socket.destroy();
      conn.reset(); // no such service: the guest's connect() fails with ECONNRESET
    });
  }

  /** A host client asked for guest port `guestPort`. */
  private hostClient(socket: Socket, guestPort: number, leftover: Buffer): void {
    const localPort = this.allocateHostPort(guestPort);
    if (!this.live() || this.openCount >= this.maxConnections || localPort === null) {
      socket.destroy();
      return;
    }
    const conn = new VsockConnection(this, this.guestCid, localPort, guestPort, "requesting");
    this.connections.set(conn.key, conn);
    conn.startHostRequest(socket, leftover, this.connectTimeoutMs, () => socket.write(`OK ${localPort}\n`));
  }

  private allocateHostPort(guestPort: number): number | null {
    for (let tries = 0; tries < this.maxConnections + 1; tries++) {
      const port = this.nextHostPort;
      this.nextHostPort = port >= 0xffff_fffe ? FIRST_HOST_PORT : port + 1;
      if (!this.connections.has(connectionKey(port, guestPort))) return port;
    }
    return null;
  }

  private replyRst(h: VsockHeader): void {
    if (h.op === OP_RST) return; // never answer a reset with a reset
    this.controlBacklog.push({
      header: {
        srcCid: HOST_CID,
        dstCid: this.guestCid,
        srcPort: h.dstPort,
        dstPort: h.srcPort,
        len: 0,
        type: VSOCK_TYPE_STREAM,
        op: OP_RST,
        flags: 0,
        bufAlloc: 0,
        fwdCnt: 0,
      },
      payload: null,
    });
  }

  /** Writes pending packets into the guest's rx buffers while both last. */
  private fillRx(): TakeEnd {
    const ctx = this.context!;
    if (!this.live()) return "failed";
    const rx = ctx.queues[RX_QUEUE];
    let nothingToSend = false;
    const end = takeChains(ctx, rx, (chain) => {
      if (chain.writableLength < VSOCK_HEADER_SIZE) {
        rx.addUsed(chain.head, 0); // not a usable rx buffer: give it back empty
        return;
      }
      const packet = this.nextPacket(chain.writableLength - VSOCK_HEADER_SIZE);
      if (packet === null) {
        rx.undoPop();
        nothingToSend = true;
        return;
      }
      chain.writeBytes(0, encodeHeader(packet.header));
      if (packet.payload) chain.writeBytes(VSOCK_HEADER_SIZE, packet.payload);
      rx.addUsed(chain.head, VSOCK_HEADER_SIZE + (packet.payload?.length ?? 0));
    }, () => nothingToSend || (this.controlBacklog.length === 0 && this.ready.size === 0));
    // Without packets, rx waits for a wake(); without buffers, for an rx notification.
    if (end !== "failed") ctx.notifyDriver(rx);
    return end;
  }

  private nextPacket(maxPayload: number): OutgoingPacket | null {
    const control = this.controlBacklog.shift();
    if (control) return control;
    for (const conn of this.ready) {
      const packet = conn.nextPacket(maxPayload);
      this.ready.delete(conn);
      if (packet) {
        // Back of the line, so one busy connection cannot starve the others.
        if (this.connections.get(conn.key) === conn) this.ready.add(conn);
        return packet;
      }
    }
    return null;
  }
}
