// The busybox echo image as a root image (ext4), made once per invocation with
// bencher-run's own unpack and mkrootfs: the disk both VMMs boot with.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { bencherRun } from "./bencher-cli.js";
import { cachedImage, echoImage } from "./images.js";
import type { BenchContext } from "./suite.js";

export async function echoRootImage(ctx: BenchContext): Promise<string> {
  const known = ctx.shared.get("echo-root");
  if (typeof known === "string") return known;
  const image = await cachedImage("echo", () => echoImage(), ctx.log);
  const dir = join(ctx.work, "echo-root");
  mkdirSync(dir, { recursive: true });
  await bencherRun(["unpack", "--image", image, "--out", join(dir, "unpacked")]);
  const disk = join(dir, "root.ext4");
  await bencherRun(["mkrootfs", "--input", join(dir, "unpacked"), "--no-cache", "--out", disk]);
  ctx.shared.set("echo-root", disk);
  return disk;
}
