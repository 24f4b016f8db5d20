// Who a stage runs as on the host. Run as root, the runner drops each stage to
// an unprivileged uid before it creates its user namespace, so root inside
// the sandbox is never root outside it. Run as an ordinary user, the stage is
// that user (a user namespace cannot map anyone else without privilege).
import { chownSync, lchownSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** The host uid/gid stages run as when the runner is root ("nobody" unless overridden). */
export function unprivilegedStageIds(): { uid: number; gid: number } {
  const uid = parseId(process.env.BENCHER_RUN_STAGE_UID, 65534);
  const gid = parseId(process.env.BENCHER_RUN_STAGE_GID, 65534);
  if (uid === 0 || gid === 0) throw new Error("BENCHER_RUN_STAGE_UID/GID must not be 0: stages never run as host root");
  return { uid, gid };
}

/**
 * Hands a directory the caller made for a stage's output to the stage's host
 * uid (under a root runner; otherwise the caller already is that uid). Never
 * use it on a directory the user named that may hold anything else.
 */
export function giveToStage(path: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = unprivilegedStageIds();
  chownSync(path, uid, gid);
}

/**
 * Gives what a stage made under `path` (path included) back to the caller,
 * once the stage has ended: under a root runner the stage wrote it as its
 * own uid. Symlinks are changed themselves, never followed; only entries the
 * stage uid owns change hands.
 */
export function returnFromStage(path: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid } = unprivilegedStageIds();
  const visit = (entry: string): void => {
    const st = lstatSync(entry);
    if (st.uid === uid) lchownSync(entry, 0, process.getgid!());
    if (st.isDirectory()) for (const name of readdirSync(entry)) visit(join(entry, name));
  };
  visit(path);
}

function parseId(text: string | undefined, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  if (!/^\d+$/.test(text)) throw new Error(`invalid uid/gid ${JSON.stringify(text)}: expected a number`);
  return Number(text);
}
