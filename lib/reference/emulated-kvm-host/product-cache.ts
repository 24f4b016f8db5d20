// The emulated KVM host sees this machine's files read-only, the bencher-run
// cache included; a run there needs a writable cache. These shell lines give
// it one, holding this machine's guest kernel and guest-init.
import { dirname, join, relative } from "node:path";
import { locateGuestInit } from "../../../guest-init/locate.js";
import { locateKernel } from "../../../kernel/locate.js";
import { cacheRoot } from "../../paths.js";

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function productCacheLines(into = "/tmp/bencher-run-cache"): string[] {
  const root = cacheRoot();
  const dirs = [dirname(locateKernel()), dirname(locateGuestInit())].map((dir) => relative(root, dir));
  return [
    ...dirs.map((dir) => `mkdir -p ${quote(dirname(join(into, dir)))} && cp -a ${quote(join(root, dir))} ${quote(join(into, dir))}`),
    `export BENCHER_RUN_CACHE=${quote(into)}`,
  ];
}
