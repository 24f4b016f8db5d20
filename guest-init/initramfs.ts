// The initramfs the guest kernel boots: guest-init as /init, the mount points
// it uses, and /dev/console (the kernel opens it for init's stdio before any
// devtmpfs is mounted). Nothing per run is in it, so it can be cached.
import { readFileSync } from "node:fs";
import { writeNewc } from "../lib/initramfs/newc.js";
import { locateGuestInit } from "./locate.js";

export function guestInitramfs(initPath: string = locateGuestInit()): Buffer {
  return writeNewc([
    { type: "dir", path: "dev" },
    { type: "chardev", path: "dev/console", major: 5, minor: 1, mode: 0o600 },
    { type: "dir", path: "proc" },
    { type: "dir", path: "sys" },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "dir", path: "newroot" },
    { type: "file", path: "init", data: readFileSync(initPath), mode: 0o755 },
  ]);
}
