// Worker threads started before they are needed. A Node worker takes tens of
// milliseconds to start (a fresh isolate, its modules, koffi): the boot stage
// starts the threads a VM needs first (vCPU 0, the ioeventfd poller) while it
// still waits for its request, so the VM's start does not wait for them. A
// worker started ahead parks until it is handed its data as its first message.
import { once } from "node:events";
import { parentPort, Worker, workerData } from "node:worker_threads";

/** Parked workers, at most one per script, with the listener that drops one that fails while parked. */
const spares = new Map<string, { worker: Worker; drop: () => void }>();

/** Starts a worker for `script` that parks until startWorker hands it its data. */
export function prestartWorker(script: URL): void {
  const key = script.href;
  if (spares.has(key)) return;
  const worker = new Worker(script);
  // A parked worker neither keeps the process alive nor, if it fails, takes
  // it down: it is dropped, and startWorker starts a fresh one.
  worker.unref();
  const drop = () => {
    if (spares.get(key)?.worker === worker) spares.delete(key);
  };
  worker.on("error", drop);
  worker.on("exit", drop);
  spares.set(key, { worker, drop });
}

/** A worker for `script` that gets `data` (not null: a fresh worker would then wait for it): the parked one if there is one, else a new one. */
export function startWorker(script: URL, data: unknown): Worker {
  if (data === null || data === undefined) throw new Error(`worker ${script.pathname}: no data to start it with`);
  const spare = spares.get(script.href);
  spares.delete(script.href);
  if (!spare) return new Worker(script, { workerData: data });
  const { worker, drop } = spare;
  // From here on its errors and its exit are the caller's to handle.
  worker.off("error", drop);
  worker.off("exit", drop);
  worker.ref();
  worker.postMessage(data);
  return worker;
}

/** In a worker: its data, given at start or (a worker started ahead) as its first message. */
export async function workerInput<T>(): Promise<T> {
  if (workerData !== null && workerData !== undefined) return workerData as T;
  const [data] = await once(parentPort!, "message");
  return data as T;
}
