// httpGet against a real loopback server: redirects are followed, and a
// redirect's body, which nobody wants and a hostile server need never end,
// is not read.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { HttpAgents, httpGet } from "../../../stages/unpack/http-get.js";

/** Writes "x" to `res` until the client stops reading or `limit` bytes are out; counts them in `sent`. */
function endlessBody(res: ServerResponse, sent: { bytes: number }, limit: number): void {
  const chunk = Buffer.alloc(16 << 10, "x");
  const pump = () => {
    while (sent.bytes < limit) {
      sent.bytes += chunk.length;
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
  };
  pump();
}

test("a redirect is followed, its endless body not read", async () => {
  const redirectBody = { bytes: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.url === "/moved") {
      res.writeHead(302, { location: "/here", "content-type": "text/plain" });
      endlessBody(res, redirectBody, 64 << 20);
    } else res.writeHead(200, { "content-type": "text/plain" }).end("here");
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const res = await httpGet(`http://127.0.0.1:${port}/moved`, new HttpAgents());
    assert.is(await res.text(), "here");
    await new Promise((resolve) => setTimeout(resolve, 500)); // time enough to drain 64 MiB over loopback
    assert.ok(redirectBody.bytes < 16 << 20, `${redirectBody.bytes} bytes of the redirect's body were read`);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test.run();
