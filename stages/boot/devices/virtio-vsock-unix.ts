// The host side of vsock, bridged to Unix sockets as Firecracker does:
// - a guest connection to host port P connects to the Unix socket `<path>_P`;
// - a host client connects to the Unix socket `<path>`, writes
//   "CONNECT <port>\n", and once the guest accepts reads "OK <hostport>\n";
//   after that the socket carries the stream.

import * as net from "node:net";

/** Longest handshake line we wait for ("CONNECT 4294967295\n" is 19 bytes). */
const MAX_HANDSHAKE = 32;
const HANDSHAKE_TIMEOUT_MS = 10_000;

export type HostClientHandler = (socket: net.Socket, guestPort: number, leftover: Buffer) => void;

export class UnixBridge {
  /** Every accepted client still open, so close() never waits on one. */
  private readonly clients = new Set<net.Socket>();
  private server: net.Server | null = null;

  private constructor(readonly path: string) {}

  /** Listens on `path` (which must not exist); resolves once listening. */
  static listen(path: string, onClient: HostClientHandler): Promise<UnixBridge> {
    const bridge = new UnixBridge(path);
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      bridge.clients.add(socket);
      socket.on("close", () => bridge.clients.delete(socket));
      readHandshake(socket, onClient);
    });
    return new Promise((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        const why = err.code === "EADDRINUSE" ? "it already exists" : err.message;
        reject(new Error(`vsock Unix socket ${path}: cannot listen: ${why}`));
      });
      server.listen(path, () => {
        server.removeAllListeners("error");
        server.on("error", () => {}); // accept errors on a listening socket are not fatal
        bridge.server = server;
        resolve(bridge);
      });
    });
  }

  /** Stops listening, drops every client and removes the socket file. */
  close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.clients) socket.destroy();
    this.clients.clear();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

/** Connects to the host service for guest connections to `port`: the Unix socket `<path>_<port>`. */
export function connectToHostPort(basePath: string, port: number): net.Socket {
  return net.connect({ path: `${basePath}_${port}`, allowHalfOpen: true });
}

function readHandshake(socket: net.Socket, onClient: HostClientHandler): void {
  let received = Buffer.alloc(0);
  const fail = () => socket.destroy();
  const timer = setTimeout(fail, HANDSHAKE_TIMEOUT_MS).unref();
  socket.on("error", () => {});
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const newline = received.indexOf(0x0a);
    if (newline < 0) {
      if (received.length > MAX_HANDSHAKE) fail();
      return;
    }
    clearTimeout(timer);
    socket.removeListener("data", onData);
    socket.removeListener("end", fail);
    socket.pause();
    const match = /^CONNECT ([0-9]{1,10})$/.exec(received.subarray(0, newline).toString("latin1"));
    const port = match ? Number(match[1]) : NaN;
    if (!(port <= 0xffff_ffff)) return fail();
    onClient(socket, port, received.subarray(newline + 1));
  };
  socket.on("data", onData);
  socket.on("end", fail);
}
