import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseBootRequest } from "../../../stages/boot/request.js";

test("defaults and a full request", () => {
  const r = parseBootRequest({ kernel: "/k/vmlinux", timeoutMs: 1000 });
  assert.equal(r, { kernel: "/k/vmlinux", initramfs: undefined, cmdline: undefined, vcpus: 1, memoryMiB: 256, disk: undefined, vsockUds: undefined, guestCid: undefined, consoleLog: undefined, holdUntilExists: undefined, timeoutMs: 1000, kvmFd: undefined, pvmHost: undefined });
  const full = parseBootRequest({
    kernel: "/k", initramfs: "/i", cmdline: "quiet", vcpus: 4, memoryMiB: 1024, disk: { path: "/d.ext4", overlay: "/run/o" },
    vsockUds: "/run/v.sock", guestCid: 3, consoleLog: "/run/console.log", holdUntilExists: "/run/v.sock_1024", timeoutMs: 5000, kvmFd: 3, pvmHost: false,
  });
  assert.is(full.vcpus, 4);
  assert.is(full.holdUntilExists, "/run/v.sock_1024");
  assert.equal(full.disk, { path: "/d.ext4", overlay: "/run/o", readOnly: undefined });
  assert.equal(parseBootRequest({ kernel: "/k", cpus: [3, 1] }).cpus, [3, 1], "host CPUs, in order");
});

test("bad requests name the field", () => {
  const bad: Array<[unknown, RegExp]> = [
    [null, /must be an object/],
    [{}, /kernel is missing/],
    [{ kernel: "relative/vmlinux" }, /kernel must be an absolute path/],
    [{ kernel: "/k", vcpus: 0 }, /vcpus must be a whole number from 1 to 64/],
    [{ kernel: "/k", vcpus: 1.5 }, /vcpus/],
    [{ kernel: "/k", memoryMiB: 8 }, /memoryMiB/],
    [{ kernel: "/k", memoryMiB: 1e9 }, /memoryMiB/],
    [{ kernel: "/k", cmdline: "a\nb" }, /cmdline must not contain/],
    [{ kernel: "/k", disk: { path: "/d", readOnly: true, overlay: "/o" } }, /disk.overlay/],
    [{ kernel: "/k", disk: { path: "/d", size: 1 } }, /disk.size is not a disk field/],
    [{ kernel: "/k", guestCid: 2 }, /guestCid/],
    [{ kernel: "/k", colour: "red" }, /colour is not a boot request field/],
    [{ kernel: "/k", timeoutMs: -1 }, /timeoutMs/],
    [{ kernel: "/k", holdUntilExists: "v.sock_1024" }, /holdUntilExists must be an absolute path/],
    [{ kernel: "/k", holdUntilExists: 7 }, /holdUntilExists/],
    [{ kernel: "/k", cpus: [] }, /^boot request: cpus must be a non-empty list of host CPU numbers$/],
    [{ kernel: "/k", cpus: "1" }, /cpus must be a non-empty list/],
    [{ kernel: "/k", cpus: [1, -1] }, /cpus must hold whole numbers from 0 to 8191, got -1/],
    [{ kernel: "/k", cpus: [0.5] }, /cpus must hold whole numbers/],
    [{ kernel: "/k", cpus: [9000] }, /cpus must hold whole numbers/],
    [{ kernel: "/k", cpus: [1, 1] }, /cpus names CPU 1 twice/],
    [{ kernel: "/k", quietCpus: true }, /^boot request: quietCpus needs vcpus 2 or more/],
    [{ kernel: "/k", vcpus: 2, quietCpus: "yes" }, /quietCpus must be true or false/],
  ];
  for (const [raw, re] of bad) assert.throws(() => parseBootRequest(raw), re, JSON.stringify(raw));
});

test("quietCpus with 2 vCPUs is kept; false or absent leaves no field", () => {
  assert.is(parseBootRequest({ kernel: "/k", vcpus: 2, quietCpus: true }).quietCpus, true);
  assert.not.ok("quietCpus" in parseBootRequest({ kernel: "/k", vcpus: 2, quietCpus: false }));
});

test.run();
