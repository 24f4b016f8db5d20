// The user and group names an image defines, read from its /etc/passwd and
// /etc/group by guest-init's rules (guest-init/user.c), so that the runner
// can refuse a --user the guest would refuse before it boots a VM for it.
// guest-init stays the authority: anything read here differently from how
// the guest would read it is "unknown" (null), and unknown is never refused.
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { readSmallFile } from "../../lib/fs/read-small-file.js";

export interface ImageAccounts {
  /** Names in /etc/passwd; [] when the file is absent; null when unknown. */
  users: string[] | null;
  /** Names in /etc/group; [] when the file is absent; null when unknown. */
  groups: string[] | null;
}

/** guest-init reads at most this much of each file (MAX_DB_FILE). */
const MAX_DB_FILE = 4 << 20;

/**
 * More names than this in one file: unknown (null). The result travels to the
 * coordinator in one frame, which refuses more than MAX_FRAME_VALUES values
 * (lib/ipc/frame.ts); no real image defines nearly as many accounts.
 */
export const MAX_ACCOUNT_NAMES = 20_000;

/** The accounts of the unpacked tree at `rootfs` (a directory unpack wrote). */
export function readImageAccounts(rootfs: string): ImageAccounts {
  const etc = join(rootfs, "etc");
  const etcKind = kindOf(etc);
  if (etcKind === "absent") return { users: [], groups: [] };
  if (etcKind !== "directory") return { users: null, groups: null }; // a symlink: the guest resolves it, we do not
  return {
    users: namesIn(join(etc, "passwd"), 7),
    groups: namesIn(join(etc, "group"), 4),
  };
}

function kindOf(path: string): "absent" | "directory" | "file" | "other" {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return "absent";
  return st.isDirectory() ? "directory" : st.isFile() ? "file" : "other";
}

/** Names on the lines of a colon-separated database that guest-init would match (uid and gid fields numeric). */
function namesIn(path: string, fields: number): string[] | null {
  const kind = kindOf(path);
  if (kind === "absent") return [];
  if (kind !== "file") return null;
  let text: string;
  try {
    text = readSmallFile(path, MAX_DB_FILE).toString("latin1");
  } catch {
    return null; // larger than guest-init reads, or not readable as a plain file here: the guest decides
  }
  // A NUL ends the text for guest-init's string functions; rather than copy that, say nothing.
  if (text.includes("\0")) return null;
  const names: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const f = line.split(":");
    if (f.length < fields) continue;
    // passwd: name:x:uid:gid:...; group: name:x:gid:members. Lines with a bad id are skipped, as the guest skips them.
    const ids = fields === 7 ? [f[2]!, f[3]!] : [f[2]!];
    if (ids.every(isAccountId)) names.push(f[0]!);
    if (names.length > MAX_ACCOUNT_NAMES) return null;
  }
  return names;
}

/** A numeric uid or gid as guest-init's parse_id takes it: 1-10 digits, at most 2^32-2. */
export function isAccountId(text: string): boolean {
  return /^\d{1,10}$/.test(text) && Number(text) <= 0xfffffffe;
}
