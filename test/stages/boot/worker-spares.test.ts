import { test } from "uvu";
import * as assert from "uvu/assert";
import { once } from "node:events";
import { spawnSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import type { Worker } from "node:worker_threads";
import { prestartWorker, startWorker } from "../../../stages/boot/worker-spares.js";

const ECHO = new URL("./fixtures/echo-worker.js", import.meta.url);

async function reply(worker: Worker): Promise<{ data: unknown; loadedAt: number }> {
  const [message] = await once(worker, "message");
  await worker.terminate();
  return message;
}

test("a worker started ahead gets its data as its first message and had started before it was asked for", async () => {
  prestartWorker(ECHO);
  // Ample time for the thread to load even on a loaded machine (it takes tens of ms when idle).
  await sleep(1000);
  const asked = Date.now();
  const { data, loadedAt } = await reply(startWorker(ECHO, { vcpu: 0, n: 7n }));
  assert.equal(data, { vcpu: 0, n: 7n });
  assert.ok(loadedAt < asked, `the thread's script ran ${loadedAt - asked} ms after it was asked for`);
});

test("without a spare a fresh worker starts, with its data at start", async () => {
  const asked = Date.now();
  const { data, loadedAt } = await reply(startWorker(ECHO, "fresh"));
  assert.is(data, "fresh");
  assert.ok(loadedAt >= asked - 5, "a new thread, started when asked");
});

test("the spare is used once: the next start gets a new thread", async () => {
  prestartWorker(ECHO);
  prestartWorker(ECHO); // still one spare
  await sleep(300);
  const first = await reply(startWorker(ECHO, 1));
  const asked = Date.now();
  const second = await reply(startWorker(ECHO, 2));
  assert.is(first.data, 1);
  assert.is(second.data, 2);
  assert.ok(second.loadedAt >= asked - 5, "the second one was not parked");
});

test("a spare that fails while parked is dropped without taking the process down; the next start is fresh", async () => {
  process.env.ECHO_WORKER_FAIL = "1";
  try {
    prestartWorker(ECHO);
    await sleep(500); // it has failed by now; nobody listened but the spares list
  } finally {
    delete process.env.ECHO_WORKER_FAIL;
  }
  const asked = Date.now();
  const { data, loadedAt } = await reply(startWorker(ECHO, "after"));
  assert.is(data, "after");
  assert.ok(loadedAt >= asked - 5, "not the failed spare");
});

test("a start without data is refused (a fresh worker would wait for it forever)", () => {
  assert.throws(() => startWorker(ECHO, undefined), /echo-worker\.js: no data to start it with/);
  assert.throws(() => startWorker(ECHO, null), /no data/);
});

test("a parked spare does not keep its process alive", () => {
  const script = `import { prestartWorker } from ${JSON.stringify(new URL("../../../stages/boot/worker-spares.js", import.meta.url).href)};
prestartWorker(new URL(${JSON.stringify(ECHO.href)}));
setTimeout(() => {}, 200);`;
  const started = Date.now();
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { timeout: 10_000 });
  assert.is(r.status, 0, String(r.stderr));
  assert.ok(Date.now() - started < 5000, "the process ended on its own");
});

test.run();
