// The kernel of the emulated KVM host: Debian's generic x86-64 kernel package
// (the one `linux-image-amd64` points at), fetched with apt and unpacked into
// the cache with the few modules the host needs. Debian's kernel because it
// has KVM (kvm-amd) and 9p as modules and needs no build of ours.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { cacheRoot } from "../../paths.js";
import { makeDirectory } from "../../fs/make-directory.js";

/** Modules the host loads, each after what it depends on: KVM on SVM, virtio over PCI, and 9p to mount the machine's files. */
export const HOST_MODULES = ["kvm-amd", "virtio_pci", "9pnet_virtio", "9p"];

export interface HostKernel {
  dir: string;
  /** e.g. 6.1.0-56-amd64 */
  release: string;
  vmlinuz: string;
  /** Module files in load order. */
  modules: string[];
}

export function hostKernelRoot(): string {
  return join(cacheRoot(), "emulated-kvm-host");
}

/** The prepared kernel, or a one-line error saying how to prepare it. */
export function locateHostKernel(): HostKernel {
  const current = join(hostKernelRoot(), "current");
  const release = existsSync(current) ? readFileSync(current, "utf8").trim() : "";
  const dir = join(hostKernelRoot(), release);
  if (!release || !existsSync(join(dir, "modules", "order"))) {
    throw new Error(`emulated KVM host: no kernel prepared in ${hostKernelRoot()}; run ./setup (or node dist/lib/reference/emulated-kvm-host/prepare.js)`);
  }
  const order = readFileSync(join(dir, "modules", "order"), "utf8").split("\n").filter(Boolean);
  return { dir, release, vmlinuz: join(dir, "vmlinuz"), modules: order.map((name) => join(dir, "modules", name)) };
}

/** Fetches and unpacks the kernel unless the package apt offers now is already prepared. */
export function prepareHostKernel(log: (line: string) => void = () => {}): HostKernel {
  const pkg = currentKernelPackage();
  const release = pkg.replace(/^linux-image-/, "");
  const dir = join(hostKernelRoot(), release);
  if (!existsSync(join(dir, "modules", "order"))) {
    log(`fetching ${pkg} (Debian) for the emulated KVM host`);
    makeDirectory(hostKernelRoot());
    const work = mkdtempSync(join(hostKernelRoot(), ".prepare-"));
    try {
      try {
        execFileSync("apt-get", ["download", "-qq", pkg], { cwd: work, stdio: ["ignore", "ignore", "pipe"] });
      } catch (err) {
        const stderr = ((err as { stderr?: Buffer }).stderr?.toString() ?? "").split("\n").filter((l) => l.startsWith("E:"));
        throw new Error(`emulated KVM host: apt-get download ${pkg} failed: ${stderr[0] ?? (err as Error).message.split("\n")[0]}`);
      }
      const deb = readdirSync(work).find((name) => name.endsWith(".deb"));
      if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
      const tree = join(work, "tree");
      execFileSync("dpkg-deb", ["-x", join(work, deb), tree]);
      const moduleDir = join(tree, "lib", "modules", release);
      // The package ships no modules.dep (its postinst runs depmod).
      execFileSync("depmod", ["-b", tree, release]);
      const staged = join(work, "staged");
      makeDirectory(join(staged, "modules"));
      copyFileSync(join(tree, "boot", `vmlinuz-${release}`), join(staged, "vmlinuz"));
      const order = moduleLoadOrder(readFileSync(join(moduleDir, "modules.dep"), "utf8"), HOST_MODULES);
      const names = order.map((path) => stageModule(join(moduleDir, path), join(staged, "modules")));
      writeFileSync(join(staged, "modules", "order"), names.join("\n") + "\n");
      rmSync(dir, { recursive: true, force: true });
      renameSync(staged, dir);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  writeFileSync(join(hostKernelRoot(), "current"), release + "\n");
  return locateHostKernel();
}

/** Copies one module, decompressed (busybox insmod loads plain .ko files only); returns its file name. */
function stageModule(source: string, intoDir: string): string {
  const compressed = /\.ko\.(xz|zst)$/.exec(source);
  const name = basename(source).replace(/\.(xz|zst)$/, "");
  if (!compressed) copyFileSync(source, join(intoDir, name));
  else writeFileSync(join(intoDir, name), execFileSync(compressed[1] === "xz" ? "xz" : "zstd", ["-dc", source], { maxBuffer: 1 << 28 }));
  return name;
}

/** The versioned kernel package `linux-image-amd64` depends on, e.g. linux-image-6.1.0-56-amd64. */
function currentKernelPackage(): string {
  const out = execFileSync("apt-cache", ["depends", "--important", "linux-image-amd64"], { encoding: "utf8" });
  const pkg = /Depends:\s*(linux-image-[\w.+-]+)/.exec(out)?.[1];
  if (!pkg) throw new Error("emulated KVM host: apt knows no linux-image-amd64 (run apt-get update)");
  return pkg;
}

/**
 * Module paths (as modules.dep names them) in an order insmod can load them:
 * every module after the modules it depends on. `wanted` are module names
 * (`9p`, `kvm-amd`); a name modules.dep does not have is an error.
 */
export function moduleLoadOrder(modulesDep: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    deps.set(line.slice(0, colon), line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((path) => [basename(path).replace(/\.ko(\.\w+)?$/, ""), path]));
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (path: string) => {
    if (order.includes(path)) return;
    if (visiting.has(path)) throw new Error(`modules.dep: a dependency cycle through ${path}`);
    visiting.add(path);
    for (const dep of deps.get(path) ?? []) visit(dep);
    visiting.delete(path);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name);
    if (!path) throw new Error(`modules.dep: no module ${name}`);
    visit(path);
  }
  return order;
}
