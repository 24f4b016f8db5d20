// Waits for a path to exist: the boot stage sets its VM up at once and holds
// the vCPUs until the listener the guest will connect to (collect's Unix
// socket) is there. inotify on the directory wakes the wait as soon as the
// path is made; a slow poll backs it up on filesystems whose changes inotify
// does not see.
import { existsSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { describeError } from "../../lib/ipc/errors.js";

const BACKUP_POLL_MS = 250;

/**
 * Resolves once `path` exists. Throws at once (naming `what`) when its
 * directory is missing, so a bad request fails before any VM is made.
 * Aborting `stop` stops watching; the promise then never settles.
 */
export function pathAppears(path: string, what: string, stop: AbortSignal): Promise<void> {
  const dir = dirname(path);
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    throw new Error(`${what} ${path}: its directory: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`);
  }
  if (!isDir) throw new Error(`${what} ${path}: ${dir} is not a directory`);

  return new Promise<void>((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    const end = () => {
      watcher?.close();
      clearInterval(poll);
      stop.removeEventListener("abort", end);
    };
    const check = () => {
      if (!existsSync(path)) return;
      end();
      resolve();
    };
    const poll = setInterval(check, BACKUP_POLL_MS);
    stop.addEventListener("abort", end, { once: true });
    try {
      watcher = watch(dir, (_event, name) => {
        if (name === null || name === basename(path)) check();
      });
      watcher.on("error", (err) => {
        end();
        reject(new Error(`${what} ${path}: watching ${dir}: ${describeError(err)}`));
      });
    } catch (err) {
      end();
      reject(new Error(`${what} ${path}: watching ${dir}: ${describeError(err)}`));
      return;
    }
    // After the watch is set, so a path made in between is not missed.
    if (stop.aborted) end();
    else check();
  });
}
