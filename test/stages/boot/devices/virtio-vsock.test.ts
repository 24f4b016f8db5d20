import { test } from "uvu";
import * as assert from "uvu/assert";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { VirtioVsock } from "../../../../stages/boot/devices/virtio-vsock.js";
import {
  OP_CREDIT_REQUEST,
  SHUTDOWN_RCV,
  SHUTDOWN_SEND,
} from "../../../../stages/boot/devices/virtio-vsock-packet.js";
import { readConfig } from "../virtio/test-driver.js";
import { GUEST_CID, OP_CREDIT_UPDATE, OP_REQUEST, OP_RESPONSE, OP_RST, OP_RW, OP_SHUTDOWN, VsockGuest, isOp } from "./vsock-guest.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vsock-test-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;

async function setup() {
  const uds = path.join(tmp, `v${n++}.sock`);
  const logs: string[] = [];
  const device = await VirtioVsock.create({ guestCid: Number(GUEST_CID), udsPath: uds, connectTimeoutMs: 2000, log: (m) => logs.push(m) });
  const guest = new VsockGuest(device);
  return { uds, device, guest, logs };
}

/** A host service on `<uds>_<port>` that records what it receives. */
async function hostService(uds: string, port: number) {
  const accepted: net.Socket[] = [];
  const chunks: Buffer[] = [];
  let ended = false;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted.push(s);
    s.on("data", (c) => chunks.push(c));
    s.on("end", () => (ended = true));
  });
  await new Promise<void>((r) => server.listen(`${uds}_${port}`, r));
  return {
    accepted,
    received: () => Buffer.concat(chunks),
    ended: () => ended,
    close: () => {
      for (const s of accepted) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function until(what: string, cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A host service on `<uds>_<port>` that accepts and never reads (until told to). */
async function stuckService(uds: string, port: number) {
  const accepted: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => {
    s.on("error", () => {});
    accepted.push(s);
  });
  await new Promise<void>((r) => server.listen(`${uds}_${port}`, r));
  return {
    accepted,
    close: () => {
      for (const s of accepted) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Connects, sends all its credit (256 KiB: more than the host's kernel
 * buffers between two Unix sockets by default, wmem_default 212992), then
 * shuts down both ways and waits for the RST.
 */
async function sendAndClose(guest: VsockGuest, srcPort: number, dstPort: number): Promise<void> {
  guest.send({ op: OP_REQUEST, srcPort, dstPort });
  await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, srcPort));
  for (let i = 0; i < 4; i++) guest.send({ op: OP_RW, srcPort, dstPort }, new Uint8Array(64 * 1024));
  guest.send({ op: OP_SHUTDOWN, srcPort, dstPort, flags: SHUTDOWN_RCV | SHUTDOWN_SEND });
  await guest.waitFor("RST", isOp(OP_RST, srcPort));
}

function connectClient(uds: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: uds, allowHalfOpen: true });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

function readAll(s: net.Socket): { data: () => Buffer; closed: () => boolean } {
  const chunks: Buffer[] = [];
  let closed = false;
  s.on("data", (c) => chunks.push(c));
  // Our clients keep their half open, so the peer closing shows as "end".
  s.on("end", () => (closed = true));
  s.on("close", () => (closed = true));
  s.on("error", () => {});
  return { data: () => Buffer.concat(chunks), closed: () => closed };
}

/**
 * Calls `start`, which sets a guest going as a vCPU beside the device would,
 * and returns how many ms a 0 ms timer set just before took to fire. The
 * guest goes on while `going()`: until the timer fired (or we give up).
 */
async function timerDelayDuring(start: (going: () => boolean) => void): Promise<number> {
  const GIVE_UP_MS = 2000;
  const started = Date.now();
  let fired = false;
  const delay = new Promise<number>((resolve) => setTimeout(() => {
    fired = true;
    resolve(Date.now() - started);
  }, 0));
  start(() => !fired && Date.now() - started < GIVE_UP_MS);
  return delay;
}

/** Chain `head` of queue `index` becomes available again each time the device returns it, while `going()`. */
function addAgainWhenUsed(guest: VsockGuest, index: number, head: number, going: () => boolean): void {
  const queue = guest.driver.transport.queues[index];
  const addUsed = queue.addUsed.bind(queue);
  queue.addUsed = (used, len) => {
    addUsed(used, len);
    if (going()) guest.driver.queues[index].publish(head);
  };
}

/**
 * The guest did not hold the event loop: the timer fired soon after the
 * notification, and the device took the rest of queue `index` later, still working.
 */
async function assertLetGo(guest: VsockGuest, index: number, ms: number, detail = ""): Promise<void> {
  assert.ok(ms < 500, `the timer fired ${ms} ms after the notification${detail}`);
  await until("the chains made available meanwhile are taken", () => !guest.driver.transport.queues[index].hasAvailable());
  assert.is(guest.driver.transport.needsResetReason, null);
}

test("config space holds the guest CID; bad CIDs and taken paths are refused", async () => {
  const { device, guest, uds } = await setup();
  assert.is(new DataView(readConfig(guest.driver.transport, 0, 8).buffer).getBigUint64(0, true), GUEST_CID);
  await assert.not.throws(() => {});
  for (const cid of [0, 1, 2, -1, 2 ** 32, 3.5]) {
    try {
      await VirtioVsock.create({ guestCid: cid, udsPath: path.join(tmp, "never") });
      assert.unreachable(`CID ${cid} accepted`);
    } catch (err) {
      assert.match((err as Error).message, /guest CID .* invalid/);
    }
  }
  try {
    await VirtioVsock.create({ guestCid: 3, udsPath: uds });
    assert.unreachable("second listener on the same path");
  } catch (err) {
    assert.match((err as Error).message, /already exists/);
  }
  await device.close();
  assert.not.ok(fs.existsSync(uds), "socket file removed on close");
});

test("guest connects to host port P through <uds>_P, data flows both ways, full shutdown ends in RST", async () => {
  const { device, guest, uds } = await setup();
  const service = await hostService(uds, 1234);
  guest.send({ op: OP_REQUEST, srcPort: 5000, dstPort: 1234 });
  const resp = await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, 5000));
  assert.is(resp.header.srcPort, 1234);
  assert.is(resp.header.dstCid, GUEST_CID);
  assert.ok(resp.header.bufAlloc > 0);

  guest.send({ op: OP_RW, srcPort: 5000, dstPort: 1234 }, Buffer.from("hello host"));
  await until("host receives", () => service.received().toString() === "hello host");

  service.accepted[0].write("hello guest");
  const rw = await guest.waitFor("RW", isOp(OP_RW, 5000));
  assert.is(rw.payload.toString(), "hello guest");

  guest.send({ op: OP_SHUTDOWN, srcPort: 5000, dstPort: 1234, flags: SHUTDOWN_RCV | SHUTDOWN_SEND });
  await guest.waitFor("RST", isOp(OP_RST, 5000));
  await until("host sees EOF", () => service.ended());
  assert.is(device.connectionCount, 0);
  await service.close();
  await device.close();
});

test("guest connection to a port nobody serves is reset; packets for unknown connections too", async () => {
  const { uds, device, guest, logs } = await setup();
  guest.send({ op: OP_REQUEST, srcPort: 5001, dstPort: 999 });
  await guest.waitFor("RST", isOp(OP_RST, 5001));
  // The guest only sees a reset; the VMM's log says why.
  assert.equal(logs, [`guest connection to port 999 (from its port 5001) refused: ${uds}_999: ENOENT`]);
  guest.send({ op: OP_RW, srcPort: 5002, dstPort: 998 }, Buffer.from("x"));
  await guest.waitFor("RST", isOp(OP_RST, 5002));
  guest.send({ op: OP_RST, srcPort: 5003, dstPort: 997 });
  assert.equal(await guest.settle(30), [], "a RST is never answered");
  assert.is(device.connectionCount, 0);
  await device.close();
});

test("packets from the wrong CID, to the wrong CID, or of another type are not served", async () => {
  const { device, guest, uds } = await setup();
  const service = await hostService(uds, 77);
  guest.send({ op: OP_REQUEST, srcPort: 1, dstPort: 77, srcCid: 4n });
  guest.send({ op: OP_REQUEST, srcPort: 2, dstPort: 77, dstCid: 5n });
  guest.send({ op: OP_REQUEST, srcPort: 3, dstPort: 77, type: 2 });
  const got = await guest.settle(50);
  assert.equal(got.map((r) => [r.header.op, r.header.dstPort]), [[OP_RST, 3]]);
  assert.is(service.accepted.length, 0);
  assert.is(device.malformedPackets, 3);
  await service.close();
  await device.close();
});

test("host client: CONNECT <port>, OK <hostport>, early data kept, half-close both ways", async () => {
  const { device, guest, uds } = await setup();
  const client = await connectClient(uds);
  const fromGuest = readAll(client);
  client.write("CONNECT 52\nearly");
  const req = await guest.waitFor("REQUEST", isOp(OP_REQUEST, 52));
  const hostPort = req.header.srcPort;
  assert.ok(hostPort >= 1 << 30);
  guest.send({ op: OP_RESPONSE, srcPort: 52, dstPort: hostPort });
  await until("OK line", () => fromGuest.data().toString().includes("\n"));
  assert.is(fromGuest.data().toString(), `OK ${hostPort}\n`);
  const early = await guest.waitFor("early data", isOp(OP_RW, 52));
  assert.is(early.payload.toString(), "early");

  guest.send({ op: OP_RW, srcPort: 52, dstPort: hostPort }, Buffer.from("pong"));
  await until("pong", () => fromGuest.data().toString().endsWith("pong"));

  client.end(); // host half-closes: the guest learns the host sends no more
  const shut = await guest.waitFor("SHUTDOWN", isOp(OP_SHUTDOWN, 52));
  assert.is(shut.header.flags, SHUTDOWN_SEND);
  guest.send({ op: OP_RW, srcPort: 52, dstPort: hostPort }, Buffer.from("still here"));
  await until("data after half-close", () => fromGuest.data().toString().endsWith("still here"));
  guest.send({ op: OP_SHUTDOWN, srcPort: 52, dstPort: hostPort, flags: SHUTDOWN_SEND | SHUTDOWN_RCV });
  await guest.waitFor("RST", isOp(OP_RST, 52));
  await until("client closed", fromGuest.closed);
  assert.is(device.connectionCount, 0);
  await device.close();
});

test("host client: the guest refusing (RST), a bad handshake, or no answer closes the client", async () => {
  const { device, guest, uds } = await setup();
  const refused = await connectClient(uds);
  const r1 = readAll(refused);
  refused.write("CONNECT 53\n");
  const req = await guest.waitFor("REQUEST", isOp(OP_REQUEST, 53));
  guest.send({ op: OP_RST, srcPort: 53, dstPort: req.header.srcPort });
  await until("refused client closed", r1.closed);
  assert.is(r1.data().length, 0, "no OK line");

  for (const line of ["HELLO\n", "CONNECT -1\n", "CONNECT 99999999999\n", "x".repeat(100)]) {
    const bad = await connectClient(uds);
    const r = readAll(bad);
    bad.write(line);
    await until(`bad handshake ${JSON.stringify(line.slice(0, 12))} closed`, r.closed);
  }
  assert.is(device.connectionCount, 0);
  await device.close();

  // No answer from the guest within connectTimeoutMs.
  const uds2 = path.join(tmp, "timeout.sock");
  const slow = await VirtioVsock.create({ guestCid: 3, udsPath: uds2, connectTimeoutMs: 100 });
  const g2 = new VsockGuest(slow);
  const silent = await connectClient(uds2);
  const r2 = readAll(silent);
  silent.write("CONNECT 54\n");
  await g2.waitFor("REQUEST", isOp(OP_REQUEST, 54));
  await until("silent guest: client closed", r2.closed, 2000);
  await g2.waitFor("RST after the timeout", isOp(OP_RST, 54));
  await slow.close();
});

test("host → guest respects the guest's credit and waits for CREDIT_UPDATE", async () => {
  const { device, guest, uds } = await setup();
  const service = await hostService(uds, 60);
  guest.send({ op: OP_REQUEST, srcPort: 6000, dstPort: 60, bufAlloc: 1000, fwdCnt: 0 });
  await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, 6000));
  const data = randomBytes(5000);
  service.accepted[0].write(data);
  const got: Buffer[] = [];
  const drain = async () => {
    for (const r of await guest.settle(60)) {
      if (r.header.op === OP_RW) got.push(r.payload);
      else assert.is(r.header.op, OP_CREDIT_REQUEST);
    }
  };
  let fwd = 0;
  for (let round = 1; round <= 5; round++) {
    await drain();
    const total = Buffer.concat(got).length;
    assert.is(total, Math.min(round * 1000, 5000), `round ${round}: exactly the credit, never more`);
    fwd = total;
    guest.send({ op: OP_CREDIT_UPDATE, srcPort: 6000, dstPort: 60, bufAlloc: 1000, fwdCnt: fwd });
  }
  await drain();
  assert.ok(Buffer.concat(got).equals(data));
  await service.close();
  await device.close();
});

test("guest → host: credit updates come back as the host reads; overrunning our credit resets", async () => {
  const { device, guest, uds } = await setup();
  const service = await hostService(uds, 61);
  guest.send({ op: OP_REQUEST, srcPort: 6100, dstPort: 61 });
  const resp = await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, 6100));
  const credit = resp.header.bufAlloc;
  const chunk = randomBytes(32 * 1024);
  const sent = Math.floor((credit * 0.75) / chunk.length);
  for (let i = 0; i < sent; i++) guest.send({ op: OP_RW, srcPort: 6100, dstPort: 61 }, chunk);
  await until("host got it all", () => service.received().length === sent * chunk.length);
  const update = await guest.waitFor("credit update", (r) => r.header.dstPort === 6100 && r.header.fwdCnt > 0);
  assert.ok(update.header.fwdCnt >= credit / 2, `fwd_cnt ${update.header.fwdCnt}`);

  // A second connection whose guest ignores the credit: more than buf_alloc in one go.
  guest.send({ op: OP_REQUEST, srcPort: 6101, dstPort: 61 });
  await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, 6101));
  await until("second accept", () => service.accepted.length === 2);
  service.accepted[1].pause(); // the host stops reading
  const big = randomBytes(60 * 1024);
  for (let i = 0; i < Math.ceil(credit / big.length) + 1; i++) guest.send({ op: OP_RW, srcPort: 6101, dstPort: 61 }, big);
  await guest.waitFor("RST for the overrun", isOp(OP_RST, 6101));
  await service.close();
  await device.close();
});

test("host EOF gives the guest SHUTDOWN(SEND) after the data; the guest closing gets RST", async () => {
  const { device, guest, uds } = await setup();
  const service = await hostService(uds, 62);
  guest.send({ op: OP_REQUEST, srcPort: 6200, dstPort: 62 });
  await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, 6200));
  await until("accepted", () => service.accepted.length === 1);
  service.accepted[0].end("bye");
  const rw = await guest.waitFor("RW", isOp(OP_RW, 6200));
  assert.is(rw.payload.toString(), "bye");
  const shut = await guest.waitFor("SHUTDOWN", isOp(OP_SHUTDOWN, 6200));
  assert.is(shut.header.flags, SHUTDOWN_SEND);
  guest.send({ op: OP_SHUTDOWN, srcPort: 6200, dstPort: 62, flags: SHUTDOWN_SEND | SHUTDOWN_RCV });
  await guest.waitFor("RST", isOp(OP_RST, 6200));
  await until("forgotten", () => device.connectionCount === 0);

  // A guest RST on a live connection closes the host socket.
  guest.send({ op: OP_REQUEST, srcPort: 6201, dstPort: 62 });
  await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, 6201));
  await until("accepted", () => service.accepted.length === 2);
  const closed = new Promise((r) => service.accepted[1].on("end", r));
  guest.send({ op: OP_RST, srcPort: 6201, dstPort: 62 });
  await closed;
  assert.is(device.connectionCount, 0);

  // The host vanishes; the guest writes anyway and gets RST (EPIPE on the host side).
  guest.send({ op: OP_REQUEST, srcPort: 6202, dstPort: 62 });
  await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, 6202));
  await until("accepted", () => service.accepted.length === 3);
  service.accepted[2].destroy();
  await guest.waitFor("SHUTDOWN", isOp(OP_SHUTDOWN, 6202));
  for (let i = 0; i < 3 && device.connectionCount > 0; i++) {
    guest.send({ op: OP_RW, srcPort: 6202, dstPort: 62 }, Buffer.from("anyone?"));
    await new Promise((r) => setTimeout(r, 20));
  }
  await guest.waitFor("RST", isOp(OP_RST, 6202));
  assert.is(device.connectionCount, 0);
  await service.close();
  await device.close();
});

test("close() drops clients still in their handshake and removes the socket file", async () => {
  const { device, uds } = await setup();
  const idle = await connectClient(uds);
  const r = readAll(idle);
  idle.write("CONN"); // never finishes its line
  await new Promise((res) => setTimeout(res, 20));
  await device.close();
  await until("idle client closed", r.closed);
  assert.not.ok(fs.existsSync(uds));
});

test("packets wait for rx buffers and flow once the guest posts them", async () => {
  const uds = path.join(tmp, "norx.sock");
  const device = await VirtioVsock.create({ guestCid: 3, udsPath: uds });
  const guest = new VsockGuest(device, { rxBuffers: 0 });
  guest.send({ op: OP_REQUEST, srcPort: 1, dstPort: 4242 }); // nobody there: RST pending
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(guest.collect(), []);
  guest.postRx(1);
  await guest.waitFor("RST", isOp(OP_RST, 1));
  await device.close();
});

test("a guest adding tx packets as fast as they are taken cannot hold the event loop: a timer still fires", async () => {
  const { device, guest } = await setup();
  try {
    // Not for the host: each one is dropped, and the same buffer comes back.
    const head = guest.queuePacket({ op: OP_RW, srcPort: 1, dstPort: 2, dstCid: 5n }, Buffer.from("x"));
    const ms = await timerDelayDuring((going) => {
      addAgainWhenUsed(guest, 1, head, going);
      guest.driver.kick(1);
    });
    await assertLetGo(guest, 1, ms, ` (${device.malformedPackets} packets taken first)`);
  } finally {
    await device.close();
  }
});

test("a guest adding unusable rx buffers as fast as they are returned cannot hold the event loop", async () => {
  const uds = path.join(tmp, `v${n++}.sock`);
  const device = await VirtioVsock.create({ guestCid: Number(GUEST_CID), udsPath: uds });
  try {
    const guest = new VsockGuest(device, { rxBuffers: 0 });
    const tiny = guest.driver.queues[0].addChain([{ writable: 8 }]).head; // no room for a header
    const ms = await timerDelayDuring((going) => {
      addAgainWhenUsed(guest, 0, tiny, going);
      guest.send({ op: OP_RW, srcPort: 7, dstPort: 8 }, Buffer.from("x")); // nobody there: a RST waits for an rx buffer
    });
    await assertLetGo(guest, 0, ms);
  } finally {
    await device.close();
  }
});

test("host sockets the guest closed while their service is not reading count against the limit and are destroyed on reset", async () => {
  const uds = path.join(tmp, `v${n++}.sock`);
  const logs: string[] = [];
  const device = await VirtioVsock.create({ guestCid: Number(GUEST_CID), udsPath: uds, maxConnections: 2, log: (m) => logs.push(m) });
  const service = await stuckService(uds, 90);
  try {
    const guest = new VsockGuest(device);
    await sendAndClose(guest, 9000, 90);
    await sendAndClose(guest, 9001, 90);
    assert.is(device.connectionCount, 0, "the connections are over");
    assert.is(device.drainingCount, 2, "their sockets still hold data the service has not read");
    guest.send({ op: OP_REQUEST, srcPort: 9002, dstPort: 90 });
    await guest.waitFor("RST", isOp(OP_RST, 9002));
    assert.is(service.accepted.length, 2, "a third connection was refused");
    assert.match(logs.join("\n"), "2 connections already open (2 of them draining)");
    guest.driver.transport.reset();
    // The service now reads: what reached its kernel buffer, then the end.
    let ended = 0;
    for (const s of service.accepted) s.once("end", () => ended++).resume();
    await until("the service sees both sockets end", () => ended === 2);
    assert.is(device.drainingCount, 0);
  } finally {
    await service.close();
    await device.close();
  }
});

test("a draining host socket whose service writes nothing for drainIdleMs is destroyed", async () => {
  const uds = path.join(tmp, `v${n++}.sock`);
  const device = await VirtioVsock.create({ guestCid: Number(GUEST_CID), udsPath: uds, drainIdleMs: 100 });
  const service = await stuckService(uds, 91);
  try {
    const guest = new VsockGuest(device);
    await sendAndClose(guest, 9100, 91);
    assert.is(device.drainingCount, 1);
    await until("destroyed", () => device.drainingCount === 0, 2000);
    let ended = false;
    service.accepted[0].once("end", () => (ended = true)).resume();
    await until("the service sees the socket end", () => ended);
  } finally {
    await service.close();
    await device.close();
  }
});

test("a draining host socket whose service reads is ended once its data is written", async () => {
  const uds = path.join(tmp, `v${n++}.sock`);
  const device = await VirtioVsock.create({ guestCid: Number(GUEST_CID), udsPath: uds });
  const service = await stuckService(uds, 92);
  try {
    const guest = new VsockGuest(device);
    await sendAndClose(guest, 9200, 92);
    const chunks: Buffer[] = [];
    let ended = false;
    service.accepted[0].on("data", (c) => chunks.push(c)).once("end", () => (ended = true)).resume();
    await until("the service sees the socket end", () => ended);
    assert.is(Buffer.concat(chunks).length, 256 * 1024, "all of the guest's data");
    await until("forgotten", () => device.drainingCount === 0);
  } finally {
    await service.close();
    await device.close();
  }
});

test("device reset closes host sockets", async () => {
  const { device, guest, uds } = await setup();
  const service = await hostService(uds, 63);
  guest.send({ op: OP_REQUEST, srcPort: 6300, dstPort: 63 });
  await guest.waitFor("RESPONSE", isOp(OP_RESPONSE, 6300));
  await until("accepted", () => service.accepted.length === 1);
  const closed = new Promise((r) => service.accepted[0].on("end", r));
  guest.driver.transport.reset();
  await closed;
  assert.is(device.connectionCount, 0);
  // While the driver is away, host clients are turned away.
  const client = await connectClient(uds);
  const r = readAll(client);
  client.write("CONNECT 1\n");
  await until("client closed", r.closed);
  await service.close();
  await device.close();
});

test.run();
