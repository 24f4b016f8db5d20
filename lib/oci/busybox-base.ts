// The base layer every "busybox" test image starts from: Debian's statically
// linked busybox (package busybox-static) with links for common applets.

import { existsSync } from "node:fs";
import type { EntryDescription } from "./description.js";

export const BUSYBOX_PATH = "/bin/busybox";

// A fixed list (not `busybox --list`) so the layer is the same on every host.
const APPLETS = [
  "sh", "ash", "cat", "echo", "env", "true", "false", "sleep", "ls", "mkdir", "rm", "cp", "mv", "ln",
  "sed", "grep", "head", "tail", "wc", "id", "pwd", "test", "[", "printf", "uname", "date", "stat",
  "chmod", "chown", "dd", "sync", "find", "xargs", "tar", "gzip", "sha256sum", "md5sum", "hostname",
  "touch", "seq", "expr", "awk", "sort", "uniq", "cut", "tr", "tee", "ps", "kill", "mount", "umount",
  "readlink", "realpath", "basename", "dirname", "du", "df", "yes", "time", "nproc", "free", "poweroff",
];

export function busyboxBaseEntries(): EntryDescription[] {
  if (!existsSync(BUSYBOX_PATH)) {
    throw new Error(`oci builder: ${BUSYBOX_PATH} is missing (install the Debian package busybox-static)`);
  }
  const entries: EntryDescription[] = [
    { type: "dir", path: "bin" },
    { type: "dir", path: "etc" },
    { type: "dir", path: "root", mode: 0o700 },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "dir", path: "proc", mode: 0o555 },
    { type: "dir", path: "sys", mode: 0o555 },
    { type: "dir", path: "dev" },
    { type: "file", path: "bin/busybox", hostFile: BUSYBOX_PATH, mode: 0o755 },
    { type: "file", path: "etc/passwd", content: "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n" },
    { type: "file", path: "etc/group", content: "root:x:0:\nnogroup:x:65534:\n" },
  ];
  for (const applet of APPLETS) entries.push({ type: "symlink", path: `bin/${applet}`, target: "busybox" });
  return entries;
}
