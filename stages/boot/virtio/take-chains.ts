// Takes a queue's available chains a bounded number at a time.
//
// Devices run on the VMM's main thread, and a driver on another vCPU can add
// chains as fast as the device takes them: a loop "until the ring is empty"
// could run for as long as the guest likes, and nothing else on that thread
// would run meanwhile (the run's time limit, other devices, sockets). So one
// call takes at most a queue size's worth of chains; a device that gets
// "budget" back takes the rest on a later turn of the event loop.

import { DescriptorChain } from "./chain.js";
import type { VirtioContext } from "./device.js";
import type { Virtqueue } from "./queue.js";

/** Why takeChains() returned. */
export type TakeEnd =
  /** Nothing is available, and the driver was asked to notify again. */
  | "empty"
  /** `paused` said stop (e.g. the device's backlog is full). */
  | "paused"
  /** A queue size's worth taken; notifications were not re-enabled. */
  | "budget"
  /** A malformed chain: ctx.fail() was called, the device needs a reset. */
  | "failed";

/**
 * Hands `handle` the available chains of `queue` in order, for at most
 * `queue.size` turns (a turn takes one chain or re-enables notifications).
 */
export function takeChains(
  ctx: VirtioContext,
  queue: Virtqueue,
  handle: (chain: DescriptorChain) => void,
  paused?: () => boolean,
): TakeEnd {
  for (let turns = queue.size; turns > 0; turns--) {
    if (paused?.()) return "paused";
    const chain = queue.pop();
    if (chain === null) {
      if (queue.enableNotification()) continue; // chains arrived meanwhile
      return "empty";
    }
    if (!(chain instanceof DescriptorChain)) {
      ctx.fail(chain.message);
      return "failed";
    }
    handle(chain);
  }
  return "budget";
}
