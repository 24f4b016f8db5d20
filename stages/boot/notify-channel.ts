// How the ioeventfd poller thread (notify-poller.ts) and the main thread
// (notify-events.ts) share which doorbells fired.

/** Int32 slots: a bell the poller bumps after marking, then one pending flag per eventfd. */
export const NOTIFY_BELL = 0;
export const NOTIFY_PENDING = 1;

export interface NotifyPollerData {
  /** The eventfds to watch, in the order of their pending flags. */
  fds: number[];
  /** An eventfd the main thread writes to make the poller return. */
  stopFd: number;
  /** Int32Array: NOTIFY_BELL, then fds.length pending flags. */
  control: SharedArrayBuffer;
}

export function notifyControlBytes(fds: number): number {
  return 4 * (NOTIFY_PENDING + fds);
}
