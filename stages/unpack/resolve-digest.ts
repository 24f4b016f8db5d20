// The unpack stage's other job, asked for with `resolveOnly`: the digest a
// registry tag names now, so that the coordinator can pin the reference to it
// (and find its root image in the cache) before any layer is fetched.
import type { StageContext } from "../../lib/ipc/stage.js";
import { UnpackError } from "./image-root.js";
import { registryTarget } from "./image-source.js";
import { parseLocalImage } from "./local-image.js";
import type { ResolveRequest } from "./request.js";

export interface ResolveResult {
  /** The digest of the manifest or index the reference names. */
  digest: string;
}

type Context = Partial<Pick<StageContext, "progress" | "log" | "signal">>;

export async function resolveDigest(req: ResolveRequest, ctx: Context = {}): Promise<ResolveResult> {
  if (parseLocalImage(req.image)) throw new UnpackError(`image ${req.image}: resolveOnly is for a registry reference, and this is a local image`);
  ctx.progress?.(null, `resolving ${req.image}`);
  const { ref, options } = await registryTarget(req, ctx.signal, (message) => ctx.log?.("warn", message));
  const { resolveRegistryDigest } = await import("./registry-source.js");
  return { digest: await resolveRegistryDigest(ref, options) };
}
