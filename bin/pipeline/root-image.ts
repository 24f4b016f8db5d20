// The root image a run boots: the cached base image for (image, fs, disk
// size), built through the unpack and mkrootfs stages on a miss. A local
// image whose digest is already in the cache costs a few small reads; a
// registry image pinned by digest costs nothing more, and one by tag the
// start of unpack, stopped once it has told the digest the tag names
// (registry-pin.ts), before it fetches a layer.
//
// The cache key's digest is one the coordinator vouches for: a local image's
// it read itself, with its layer digests (each blob hashed here on a miss;
// unpack must agree); a registry image's is the digest its reference was
// pinned to before unpack read a layer, with that reference
// (lib/rootfs-cache/).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describeError } from "../../lib/ipc/errors.js";
import { PipelineError, PipelineOptionError } from "./errors.js";
import { AuthFileError, credentialsForImage, withAuthNote } from "../cli/registry-credentials.js";
import type { AuthLookup } from "../../lib/oci/auth-file.js";
import type { RunConfig, UnpackResult } from "../../stages/unpack/unpack.js";
import type { UnpackRequest } from "../../stages/unpack/request.js";
import type { MkrootfsRequest } from "../../stages/mkrootfs/request.js";
import type { MkrootfsResult } from "../../stages/mkrootfs/mkrootfs.js";
import type { ImageAccounts } from "../../stages/mkrootfs/accounts.js";
import { cacheKey, lookupCached, ownCacheDir, type DigestOrigin } from "../../lib/rootfs-cache/cache.js";
import { cachedRootImage } from "../../lib/rootfs-cache/cached-build.js";
import { stageReadProblem } from "../../lib/sandbox/stage-readable.js";
import type { RunWorkdir } from "../../lib/workdir/run-workdir.js";
import { peekLocalImage, type ImageIdentity } from "./image-identity.js";
import { formatLocalImage, parseLocalImage } from "../../stages/unpack/local-image.js";
import type { RootfsKind } from "./options.js";
import { runStage, type StageHooks } from "./stage-runner.js";
import { RegistryPin, type PinnedImage } from "./registry-pin.js";
import { parseUnpackResult } from "../../stages/unpack/result.js";
import { parseMkrootfsResult } from "../../stages/mkrootfs/result.js";
import { readSmallFile } from "../../lib/fs/read-small-file.js";
import { isDigest, isPlatform, MAX_CONFIG_BYTES } from "../../stages/mkrootfs/input.js";

export interface RootImage {
  /** The read-only base image in the cache. */
  path: string;
  fs: RootfsKind;
  runConfig: RunConfig;
  /** True when neither unpack nor mkrootfs had to build anything. */
  cached: boolean;
  /** Time spent in unpack and mkrootfs (0 on a cache hit, but for the resolving of a registry tag). */
  prepareMs: number;
  /** The image's user and group names, when mkrootfs recorded them. */
  accounts?: ImageAccounts;
  /** A registry image's reference pinned to the digest it was run at: `host/repo@sha256:…`. */
  reference?: string;
}

/** The image string for unpack (local paths made absolute) and the host path to bind read-only, if local. */
export function locateImage(image: string): { request: string; bind: string | null } {
  const local = parseLocalImage(image);
  if (!local) return { request: image, bind: null };
  if (!existsSync(local.path)) throw new PipelineOptionError("image", image, "no such file or directory");
  return { request: formatLocalImage(local), bind: local.path };
}

/** How to reach a registry: an extra CA to trust, plain HTTP or not (unpack's defaults when unset), the auth file to read credentials from. */
export interface RegistryAccess {
  ca?: string | undefined;
  plainHttp?: boolean | undefined;
  authFile?: string | undefined;
}

export async function prepareRootImage(
  image: string,
  fs: RootfsKind,
  diskMiB: number | undefined,
  workdir: RunWorkdir,
  hooks: StageHooks,
  registry: RegistryAccess = {},
): Promise<RootImage> {
  const local = locateImage(image);
  const identity = local.bind ? await peekLocalImage(local.request) : null;
  if (identity) {
    const hit = lookupRootImage(identity.digest, { verifiedLayers: identity.layerDigests }, fs, diskMiB, identity.runConfig);
    if (hit) return hit;
  }
  const pin = local.bind ? null : new RegistryPin(local.request);
  if (pin?.pinned) {
    const hit = lookupRegistryImage(pin.pinned, fs, diskMiB);
    if (hit) return hit;
  }
  const started = performance.now();
  const out = workdir.stageDir("unpack");
  const unpackRequest: UnpackRequest = { image: local.request, out };
  if (registry.ca !== undefined) unpackRequest.registryCa = registry.ca;
  if (registry.plainHttp !== undefined) unpackRequest.plainHttp = registry.plainHttp;
  // Checked only now: a cache hit never needs the stage to read them.
  if (local.bind) stageMustRead("image", image, local.bind);
  if (registry.ca !== undefined) stageMustRead("registryCa", registry.ca, registry.ca);
  const auth = registryAuth(local.request, local.bind === null, registry.authFile);
  if (auth.credentials) unpackRequest.auth = auth.credentials;

  // A registry image's tag is pinned by unpack's first event; if that image
  // is cached, the stage is stopped then, before it fetches a layer.
  const meanwhile: { cached: RootImage | null; lookupError?: unknown } = { cached: null };
  const stopUnpack = new AbortController();
  const unpackHooks: StageHooks = {
    ...hooks,
    signal: hooks.signal ? AbortSignal.any([hooks.signal, stopUnpack.signal]) : stopUnpack.signal,
    onEvent: (_stage, name, body) => {
      if (!pin || name !== "resolved") return;
      const pinned = pin.resolved(body);
      try {
        if (pinned) meanwhile.cached = lookupRegistryImage(pinned, fs, diskMiB);
      } catch (err) {
        meanwhile.lookupError = err; // the cache's error, not the stage's: said as such below
      }
      // Killed outright: nothing it would still say or write is wanted.
      if (meanwhile.cached) stopUnpack.abort(Object.assign(new Error("unpack stopped: its image is cached"), { signal: "SIGKILL" }));
      else if (pin.problem || meanwhile.lookupError !== undefined) stopUnpack.abort(new Error("unpack stopped"));
    },
  };
  const unpacking = runStage<UnpackResult>("unpack", unpackRequest, {
    readOnly: [...(local.bind ? [local.bind] : []), ...(registry.ca !== undefined ? [registry.ca] : [])],
    writable: [out],
    network: local.bind === null,
  }, unpackHooks, (raw) => parseUnpackResult(raw, out)).catch((err: unknown) => {
    throw withAuthNote(err, auth);
  });
  // Meanwhile the layers the cache key names are hashed here: only bytes, never parsed.
  const stopVerifying = new AbortController();
  unpacking.catch(() => stopVerifying.abort());
  const verifySignal = hooks.signal ? AbortSignal.any([hooks.signal, stopVerifying.signal]) : stopVerifying.signal;
  const verifying = identity ? identity.verifyLayers(verifySignal) : Promise.resolve();
  const [unpacked, verified] = await Promise.allSettled([unpacking, verifying]);
  // Only now, the stage (stopped or not) gone with every process of its sandbox.
  if (meanwhile.cached) return { ...meanwhile.cached, prepareMs: Math.round(performance.now() - started) };
  // Before unpack's error: stopping it made that.
  if (meanwhile.lookupError !== undefined) throw meanwhile.lookupError;
  if (pin?.problem) throw pin.problemError();
  if (unpacked.status === "rejected") throw unpacked.reason; // what unpack said is the clearer account of a bad image
  if (verified.status === "rejected") {
    throw new PipelineError(`unpack: invalid result: the image's layers are not the ones its manifest names: ${describeError(verified.reason)}`);
  }
  const pinned = pin ? pin.checked() : null;
  const runConfig = readRunConfig(join(out, "config.json"));
  const { digest, origin } = cacheIdentity(runConfig, identity, pinned, join(out, "config.json"));

  const staging = workdir.stageDir("mkrootfs");
  const made = await cachedRootImage({ digest, origin, fs, diskMiB, platform: runConfig.platform, ...(pinned ? { runConfig } : {}) }, staging, (image) => {
    const request: MkrootfsRequest = { input: out, out: image, fs };
    if (diskMiB !== undefined) request.diskMiB = diskMiB;
    return runStage<MkrootfsResult>("mkrootfs", request, { readOnly: [out], writable: [staging] }, hooks, (raw) => parseMkrootfsResult(raw, { fs, out: image }));
  }, (count, bytes) => hooks.onLog?.("mkrootfs", "info", `cache: evicted ${count} least recently used images (${Math.round(bytes / 2 ** 20)} MiB)`));
  return {
    path: made.image, fs, runConfig, cached: made.cached, prepareMs: Math.round(performance.now() - started),
    ...(made.accounts ? { accounts: made.accounts } : {}),
    ...(pinned ? { reference: pinned.reference } : {}),
  };
}

/**
 * The cached root image for a digest and its origin, or null. `runConfig`:
 * how to run it, when the coordinator knows (a local image's); else the
 * sidecar's, checked as config.json is, and an entry without a sound one
 * is not a hit.
 */
function lookupRootImage(digest: string, origin: DigestOrigin, fs: RootfsKind, diskMiB: number | undefined, runConfig: RunConfig | null): RootImage | null {
  ownCacheDir();
  const hit = lookupCached(cacheKey({ digest, origin, fs, diskMiB }));
  if (!hit) return null;
  const config = runConfig ?? (hit.runConfig && runConfigProblem(hit.runConfig) === undefined ? hit.runConfig : null);
  if (!config) return null;
  return { path: hit.image, fs, runConfig: config, cached: true, prepareMs: 0, ...(hit.accounts ? { accounts: hit.accounts } : {}) };
}

/** A registry image's cached root image, keyed by its pinned reference; how to run it is the sidecar's. */
function lookupRegistryImage(pinned: PinnedImage, fs: RootfsKind, diskMiB: number | undefined): RootImage | null {
  const hit = lookupRootImage(pinned.digest, { claimedBy: pinned.reference }, fs, diskMiB, null);
  return hit ? { ...hit, reference: pinned.reference } : null;
}

/**
 * The unpack stage's config.json, read by the coordinator (as root) from the
 * directory it gave the stage: never through a symlink, never a FIFO or a
 * device (no hang, no endless read), at most MAX_CONFIG_BYTES.
 */
export function readRunConfig(path: string): RunConfig {
  let config: unknown;
  try {
    config = JSON.parse(readSmallFile(path, MAX_CONFIG_BYTES).toString("utf8"));
  } catch (err) {
    throw new PipelineError(`unpack: invalid result: ${path}: ${describeError(err)}`, { cause: err });
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw new PipelineError(`unpack: invalid result: ${path} is not a JSON object`);
  return config as RunConfig;
}

/**
 * The digest that keys an unpacked image's root image, and who vouches for
 * it. A local image's the coordinator read itself, with its layer digests
 * (each blob hashed here too), and unpack must agree: a compromised unpack
 * could otherwise claim another image's digest, to have its own tree cached
 * and booted under that image's name. A registry image is keyed by its
 * pinned reference (registry-pin.ts), fixed by unpack's first word, before
 * it read a layer: whatever it claims after, it can spoil only that
 * reference's own entry.
 */
export function cacheIdentity(runConfig: RunConfig, identity: Pick<ImageIdentity, "digest" | "layerDigests"> | null, pinned: PinnedImage | null, configPath: string): { digest: string; origin: DigestOrigin } {
  const problem = runConfigProblem(runConfig);
  if (problem) throw new PipelineError(`unpack: invalid result: ${configPath}: ${problem}`);
  if (!identity) {
    if (!pinned) throw new Error("cacheIdentity: an image neither local nor pinned");
    return { digest: pinned.digest, origin: { claimedBy: pinned.reference } };
  }
  if (runConfig.digest !== identity.digest) {
    throw new PipelineError(`unpack: invalid result: ${configPath}: digest ${runConfig.digest} is not the image's ${identity.digest}`);
  }
  return { digest: identity.digest, origin: { verifiedLayers: identity.layerDigests } };
}

/** What is wrong with a run config's fields the cache relies on (its digest and platform), if anything. */
function runConfigProblem(runConfig: RunConfig): string | undefined {
  if (!isDigest(runConfig.digest)) return "digest must be an OCI digest";
  if (!isPlatform(runConfig.platform)) return "platform must be os/architecture[/variant]";
  return undefined;
}

/** What the user's auth file has for a registry image (nothing for a local one). */
function registryAuth(image: string, fromRegistry: boolean, authFile: string | undefined): AuthLookup {
  if (!fromRegistry) return {};
  try {
    return credentialsForImage(image, authFile);
  } catch (err) {
    if (err instanceof AuthFileError) throw new PipelineError(err.message);
    throw err;
  }
}

/** An input the stage, run as another uid under root, could not read: refused as the option's error. */
function stageMustRead(option: string, value: string, path: string): void {
  const problem = stageReadProblem(path, value);
  if (problem) throw new PipelineOptionError(option, value, problem);
}
