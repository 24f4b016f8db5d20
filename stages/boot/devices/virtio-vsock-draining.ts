// Host sockets of connections the guest closed both ways, still writing the
// guest's last data to their host service. The connection itself is over
// (the guest has its RST, the port pair is free again), but the socket and
// the data Node still holds for it are not: they count against the device's
// connection limit, and a socket whose service stops reading is destroyed,
// as is every one on device reset, so a guest cannot pile them up.

import type { Socket } from "node:net";

/** A draining socket that writes nothing for this long is destroyed, its data lost. */
export const DRAIN_IDLE_MS = 10_000;

export class DrainingSockets {
  /** Each socket with the timer that checks it is still making progress. */
  private readonly sockets = new Map<Socket, NodeJS.Timeout>();

  constructor(private readonly idleMs = DRAIN_IDLE_MS) {}

  get size(): number {
    return this.sockets.size;
  }

  /** Ends `socket` after what was written to it, then destroys it (or sooner, once it stalls). */
  add(socket: Socket): void {
    let unsent = socket.writableLength;
    const check = () => {
      if (!this.sockets.has(socket)) return;
      if (socket.writableLength >= unsent) return this.drop(socket); // the service stopped reading
      unsent = socket.writableLength;
      this.sockets.set(socket, setTimeout(check, this.idleMs).unref());
    };
    this.sockets.set(socket, setTimeout(check, this.idleMs).unref());
    socket.once("close", () => this.drop(socket));
    socket.end(() => this.drop(socket));
  }

  /** Destroys every draining socket (device reset). */
  destroyAll(): void {
    for (const socket of [...this.sockets.keys()]) this.drop(socket);
  }

  private drop(socket: Socket): void {
    const timer = this.sockets.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.sockets.delete(socket);
    socket.destroy();
  }
}
