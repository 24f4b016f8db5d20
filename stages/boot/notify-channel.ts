// How the ioeventfd poller thread (notify-poller.ts) and the main thread
// (notify-events.ts) share which doorbells fired.

/**
 * Int32 slots: a bell the poller bumps after marking, then one pending flag
 * per eventfd, then per eventfd how many guest writes it counted (mod 2^32).
 */
export const NOTIFY_BELL = 0;
export const NOTIFY_PENDING = 1;

export interface NotifyPollerData {
  /** The eventfds to watch, in the order of their pending flags. */
  fds: number[];
  /** An eventfd the main thread writes to make the poller return. */
  stopFd: number;
  /** Int32Array: NOTIFY_BELL, fds.length pending flags, fds.length write counts. */
  control: SharedArrayBuffer;
}

export function notifyControlBytes(fds: number): number {
  return 4 * (NOTIFY_PENDING + 2 * fds);
}

/** Index of eventfd i's write count. */
export function notifyCountSlot(fds: number, i: number): number {
  return NOTIFY_PENDING + fds + i;
}
