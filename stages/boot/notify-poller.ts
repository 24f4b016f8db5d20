// The ioeventfd poller thread: blocks in poll() on the eventfds KVM signals
// when the guest writes a doorbell register (virtio QueueNotify), and tells
// the main thread which ones fired through shared memory. The main thread
// cannot block, and libuv cannot watch an eventfd, so this thread does.
import { parentPort } from "node:worker_threads";
import { EAGAIN, EINTR, poll, POLLERR, POLLIN, POLLNVAL, readFd } from "./kvm/libc.js";
import { NOTIFY_BELL, NOTIFY_PENDING, notifyCountSlot, NotifyPollerData } from "./notify-channel.js";
import { workerInput } from "./worker-spares.js";

const data = await workerInput<NotifyPollerData>();
const control = new Int32Array(data.control);
const all = [data.stopFd, ...data.fds];
const pollfds = new Uint8Array(8 * all.length);
const pv = new DataView(pollfds.buffer);
all.forEach((fd, i) => {
  pv.setInt32(i * 8, fd, true);
  pv.setInt16(i * 8 + 4, POLLIN, true);
});
const counter = new Uint8Array(8);
const counterView = new DataView(counter.buffer);

function loop(): string | undefined {
  for (;;) {
    const rc = poll(pollfds, -1);
    if (rc === -EINTR) continue;
    if (rc < 0) return `poll failed with errno ${-rc}`;
    let fired = false;
    for (let i = 0; i < all.length; i++) {
      const revents = pv.getInt16(i * 8 + 6, true);
      if (revents === 0) continue;
      if (revents & (POLLERR | POLLNVAL)) return `eventfd ${all[i]} failed (revents 0x${revents.toString(16)})`;
      if (i === 0) return undefined; // stop requested
      // Reading resets the eventfd's counter: repeats since the last read coalesce into one.
      const n = readFd(all[i], counter);
      if (n < 0 && n !== -EAGAIN) return `read of eventfd ${all[i]} failed with errno ${-n}`;
      if (n === 8) Atomics.add(control, notifyCountSlot(data.fds.length, i - 1), Number(counterView.getBigUint64(0, true) & 0x7fffffffn));
      Atomics.store(control, NOTIFY_PENDING + i - 1, 1);
      fired = true;
    }
    if (fired) {
      Atomics.add(control, NOTIFY_BELL, 1);
      Atomics.notify(control, NOTIFY_BELL);
    }
  }
}

const error = loop();
parentPort!.postMessage({ error });
