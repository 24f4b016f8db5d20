// One vsock stream between a guest port and a host Unix socket: its state,
// credit-based flow control both ways (virtio 1.2 §5.10.6.3) and shutdown.
//
// Credit: each side tells the other how much it can buffer (buf_alloc) and how
// much it has consumed so far (fwd_cnt). We never send the guest more than
// buf_alloc - (tx_cnt - fwd_cnt) bytes, and we stop reading the host socket
// while the guest has no room; a guest that sends us more than our credit is
// reset.

import type { Socket } from "node:net";
import {
  HOST_CID,
  MAX_PAYLOAD,
  OP_CREDIT_REQUEST,
  OP_CREDIT_UPDATE,
  OP_REQUEST,
  OP_RESPONSE,
  OP_RST,
  OP_RW,
  OP_SHUTDOWN,
  SHUTDOWN_RCV,
  SHUTDOWN_SEND,
  VSOCK_TYPE_STREAM,
  type VsockHeader,
} from "./virtio-vsock-packet.js";

/** What we can buffer of the guest's data before the host socket takes it. */
export const HOST_BUF_ALLOC = 256 * 1024;
/** Most host data we hold for the guest before we stop reading the socket. */
const HOST_READ_HIGH_WATER = 64 * 1024;

/** What a connection needs from the device that owns it. */
export interface ConnectionOwner {
  /** The connection has a packet for the guest. */
  wake(conn: VsockConnection): void;
  /** The connection is over; forget it. */
  forget(conn: VsockConnection): void;
  /** Takes over a host socket the guest closed, to end it once its data is written. */
  drain(socket: Socket): void;
}

export interface OutgoingPacket {
  header: VsockHeader;
  payload: Uint8Array | null;
}

type State =
  | "connecting" // guest asked; we are connecting to the host's Unix socket
  | "requesting" // a host client asked; we sent REQUEST and await RESPONSE
  | "established"
  | "closing" // RST decided or sent; waiting to be forgotten
  | "closed";

export class VsockConnection {
  state: State;
  private socket: Socket | null = null;

  // Guest → host: what we advertise.
  private rxCnt = 0; // bytes received from the guest
  private fwdCnt = 0; // of those, bytes the host socket has taken
  private lastSentFwdCnt = 0;
  // Host → guest: what the guest advertised and what we sent.
  private peerBufAlloc = 0;
  private peerFwdCnt = 0;
  private txCnt = 0;
  private hostData: Buffer[] = [];
  private hostDataBytes = 0;
  private readingPaused = false;

  // Control packets waiting to go out.
  private sendRequest = false;
  private sendResponse = false;
  private sendCreditUpdate = false;
  private sendCreditRequest = false;
  private creditRequested = false;
  private sendRst = false;
  /** SHUTDOWN flags to send once the host data before them is delivered. */
  private pendingShutdown = 0;
  private sentShutdown = 0;
  private guestShutdown = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Tells a host client "OK <port>" once the guest accepted. */
  private onEstablished: (() => void) | null = null;

  constructor(
    private readonly owner: ConnectionOwner,
    readonly guestCid: bigint,
    /** Port on the host side (CID 2). */
    readonly localPort: number,
    /** Port on the guest side. */
    readonly peerPort: number,
    state: "connecting" | "requesting",
  ) {
    this.state = state;
  }

  get key(): string {
    return connectionKey(this.localPort, this.peerPort);
  }

  /** Guest-initiated: the guest's REQUEST header gives its initial credit. */
  static fromGuestRequest(owner: ConnectionOwner, guestCid: bigint, h: VsockHeader): VsockConnection {
    const conn = new VsockConnection(owner, guestCid, h.dstPort, h.srcPort, "connecting");
    conn.updatePeerCredit(h);
    return conn;
  }

  /** The host socket for a guest-initiated connection is connected: answer the guest. */
  hostConnected(socket: Socket): void {
    if (this.state !== "connecting") {
      socket.destroy();
      return;
    }
    this.attach(socket);
    this.state = "established";
    this.sendResponse = true;
    this.owner.wake(this);
  }

  /** A host client connected and asked for guest port `peerPort`: send REQUEST. */
  startHostRequest(socket: Socket, leftover: Buffer, timeoutMs: number, onEstablished: () => void): void {
    this.attach(socket);
    this.pauseReading();
    if (leftover.length > 0) this.pushHostData(leftover);
    this.onEstablished = onEstablished;
    this.sendRequest = true;
    this.timer = setTimeout(() => this.reset(), timeoutMs).unref();
    this.owner.wake(this);
  }

  /** Tears the connection down and tells the guest (RST). */
  reset(): void {
    if (this.state === "closing" || this.state === "closed") return;
    this.state = "closing";
    this.sendRst = true;
    this.dropHostData();
    this.destroySocket();
    this.owner.wake(this);
  }

  /** Forgets the connection without telling the guest (device reset). */
  destroy(): void {
    this.state = "closed";
    this.destroySocket();
    this.clearTimer();
  }

  /** A packet from the guest for this connection. */
  onGuestPacket(h: VsockHeader, payload: Uint8Array | null): void {
    if (this.state === "closing" || this.state === "closed") return;
    this.updatePeerCredit(h);
    switch (h.op) {
      case OP_RESPONSE:
        if (this.state !== "requesting") return this.reset();
        this.state = "established";
        this.clearTimer();
        this.onEstablished?.();
        this.onEstablished = null;
        this.maybeResumeReading();
        this.owner.wake(this);
        return;
      case OP_RW:
        return this.guestData(payload ?? new Uint8Array(0));
      case OP_CREDIT_UPDATE:
        return;
      case OP_CREDIT_REQUEST:
        this.sendCreditUpdate = true;
        this.owner.wake(this);
        return;
      case OP_SHUTDOWN:
        return this.guestShutdownReceived(h.flags & (SHUTDOWN_RCV | SHUTDOWN_SEND));
      case OP_RST:
        this.state = "closed";
        this.destroySocket();
        this.clearTimer();
        this.owner.forget(this);
        return;
      default:
        // A REQUEST on an open connection, or an unknown operation.
        return this.reset();
    }
  }

  /** The next packet for the guest, with at most `maxPayload` bytes of data, or null. */
  nextPacket(maxPayload: number): OutgoingPacket | null {
    if (this.sendRst) {
      this.sendRst = false;
      this.state = "closed";
      this.clearTimer();
      this.owner.forget(this);
      return this.packet(OP_RST);
    }
    if (this.state === "closed" || this.state === "closing") return null;
    if (this.sendRequest) {
      this.sendRequest = false;
      return this.packet(OP_REQUEST);
    }
    if (this.sendResponse) {
      this.sendResponse = false;
      return this.packet(OP_RESPONSE);
    }
    if (this.state !== "established") return null;
    if (this.hostDataBytes > 0) {
      const n = Math.min(this.hostDataBytes, this.peerFree(), maxPayload, MAX_PAYLOAD);
      if (n > 0) {
        const payload = this.takeHostData(n);
        this.txCnt = (this.txCnt + n) >>> 0;
        this.maybeResumeReading();
        return this.packet(OP_RW, payload);
      }
      if (this.peerFree() === 0 && !this.creditRequested) {
        // The guest has no room: ask it to say when it has.
        this.creditRequested = true;
        return this.packet(OP_CREDIT_REQUEST);
      }
    }
    if (this.sendCreditUpdate) return this.packet(OP_CREDIT_UPDATE);
    const shutdown = this.pendingShutdown & ~this.sentShutdown;
    if (shutdown && this.hostDataBytes === 0) {
      this.sentShutdown |= shutdown;
      if (this.sentShutdown === (SHUTDOWN_RCV | SHUTDOWN_SEND)) {
        // The guest answers a full shutdown with RST; don't wait forever.
        this.clearTimer();
        this.timer = setTimeout(() => this.reset(), 10_000).unref();
      }
      return this.packet(OP_SHUTDOWN, null, this.sentShutdown);
    }
    return null;
  }

  private packet(op: number, payload: Uint8Array | null = null, flags = 0): OutgoingPacket {
    // Every packet carries our credit, so a separate update is no longer due.
    this.lastSentFwdCnt = this.fwdCnt;
    this.sendCreditUpdate = false;
    return {
      header: {
        srcCid: HOST_CID,
        dstCid: this.guestCid,
        srcPort: this.localPort,
        dstPort: this.peerPort,
        len: payload ? payload.length : 0,
        type: VSOCK_TYPE_STREAM,
        op,
        flags,
        bufAlloc: HOST_BUF_ALLOC,
        fwdCnt: this.fwdCnt,
      },
      payload,
    };
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => this.hostReadable(chunk));
    socket.on("end", () => this.hostEnded());
    socket.on("close", (hadError: boolean) => this.hostClosed(hadError));
    socket.on("error", () => {}); // "close" follows and says so
  }

  private destroySocket(): void {
    this.detachSocket()?.destroy();
  }

  /** Stops listening to the host socket and lets go of it. */
  private detachSocket(): Socket | null {
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.removeAllListeners("data");
      s.removeAllListeners("end");
      s.removeAllListeners("close");
    }
    return s;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // ---- host → guest ----

  private peerFree(): number {
    return Math.max(0, this.peerBufAlloc - ((this.txCnt - this.peerFwdCnt) >>> 0));
  }

  private updatePeerCredit(h: VsockHeader): void {
    const before = this.peerFree();
    this.peerBufAlloc = h.bufAlloc;
    this.peerFwdCnt = h.fwdCnt;
    if (this.peerFree() > before) {
      this.creditRequested = false;
      this.maybeResumeReading();
      if (this.hostDataBytes > 0) this.owner.wake(this);
    }
  }

  private pushHostData(chunk: Buffer): void {
    this.hostData.push(chunk);
    this.hostDataBytes += chunk.length;
  }

  private hostReadable(chunk: Buffer): void {
    if (this.guestShutdown & SHUTDOWN_RCV || this.state === "closing" || this.state === "closed") return;
    this.pushHostData(chunk);
    if (this.hostDataBytes >= Math.min(HOST_READ_HIGH_WATER, this.peerFree()) || this.state !== "established") this.pauseReading();
    this.owner.wake(this);
  }

  private pauseReading(): void {
    if (!this.readingPaused) this.socket?.pause();
    this.readingPaused = true;
  }

  private maybeResumeReading(): void {
    if (!this.readingPaused || this.state !== "established" || this.guestShutdown & SHUTDOWN_RCV) return;
    if (this.hostDataBytes < Math.min(HOST_READ_HIGH_WATER, this.peerFree())) {
      this.readingPaused = false;
      this.socket?.resume();
    }
  }

  private takeHostData(n: number): Buffer {
    const parts: Buffer[] = [];
    let want = n;
    while (want > 0) {
      const first = this.hostData[0];
      if (first.length <= want) {
        parts.push(first);
        this.hostData.shift();
        want -= first.length;
      } else {
        parts.push(first.subarray(0, want));
        this.hostData[0] = first.subarray(want);
        want = 0;
      }
    }
    this.hostDataBytes -= n;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  private dropHostData(): void {
    this.hostData = [];
    this.hostDataBytes = 0;
  }

  /** The host client half-closed: after its data, tell the guest it will send no more. */
  private hostEnded(): void {
    this.pendingShutdown |= SHUTDOWN_SEND;
    this.owner.wake(this);
  }

  private hostClosed(hadError: boolean): void {
    this.socket = null;
    if (this.state === "closing" || this.state === "closed") return;
    if (hadError || this.state !== "established") return this.reset();
    // Gone both ways: after its data, tell the guest; it answers with RST.
    this.pendingShutdown |= SHUTDOWN_RCV | SHUTDOWN_SEND;
    this.owner.wake(this);
  }

  // ---- guest → host ----

  private guestData(payload: Uint8Array): void {
    if (this.state !== "established" || this.guestShutdown & SHUTDOWN_SEND) return;
    const n = payload.length;
    if (((this.rxCnt - this.fwdCnt) >>> 0) + n > HOST_BUF_ALLOC) {
      // The guest ignored the credit we gave it.
      return this.reset();
    }
    this.rxCnt = (this.rxCnt + n) >>> 0;
    const socket = this.socket;
    if (!socket || socket.destroyed || !socket.writable) {
      this.consumed(n); // nobody to deliver to; don't let the guest's credit leak
      return;
    }
    // `payload` is already our own copy of the guest's bytes: wrap it, don't copy again.
    socket.write(Buffer.from(payload.buffer, payload.byteOffset, payload.length), () => this.consumed(n));
  }

  private consumed(n: number): void {
    this.fwdCnt = (this.fwdCnt + n) >>> 0;
    if (this.state !== "established") return;
    // Tell the guest about the room once what it believes it has runs low.
    const guestBelievesFree = HOST_BUF_ALLOC - ((this.rxCnt - this.lastSentFwdCnt) >>> 0);
    if (guestBelievesFree < HOST_BUF_ALLOC / 2 && !this.sendCreditUpdate) {
      this.sendCreditUpdate = true;
      this.owner.wake(this);
    }
  }

  private guestShutdownReceived(flags: number): void {
    this.guestShutdown |= flags;
    if (flags & SHUTDOWN_RCV) {
      this.dropHostData();
      this.pauseReading();
    }
    if (flags & SHUTDOWN_SEND) this.socket?.end();
    if (this.guestShutdown === (SHUTDOWN_RCV | SHUTDOWN_SEND)) {
      // Closed both ways by the guest: answer RST; the device ends the socket
      // once the data written to it has gone.
      const socket = this.detachSocket();
      if (socket) this.owner.drain(socket);
      this.state = "closing";
      this.sendRst = true;
      this.owner.wake(this);
    }
  }
}

export function connectionKey(localPort: number, peerPort: number): string {
  return `${localPort}:${peerPort}`;
}
