// The unpack stage's result, checked by the coordinator: the stage may be
// compromised, so its paths must be the ones the coordinator asked for and
// its strings must be printable.
import { join } from "node:path";
import { checkLine, optionalLine, resultFail, resultObject, wholeNumber, type Raw } from "../../lib/ipc/result-fields.js";
import type { UnpackResult } from "./unpack.js";

/** An OCI digest: algorithm:encoded (e.g. sha256:<64 hex>). */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,256}$/;

function digest(raw: Raw, field: string): string {
  const v = raw[field];
  if (typeof v !== "string" || !DIGEST.test(checkLine(v, field, 300))) resultFail(field, "must be a digest (algorithm:hex)");
  return v as string;
}

/** `out` is the directory the coordinator gave the stage: the result's paths must be its rootfs/, metadata.jsonl and config.json. */
export function parseUnpackResult(raw: unknown, out: string): UnpackResult {
  const r = resultObject(raw);
  const expected = { rootfs: join(out, "rootfs"), metadata: join(out, "metadata.jsonl"), config: join(out, "config.json") };
  for (const [field, path] of Object.entries(expected)) {
    if (r[field] !== path) resultFail(field, `must be ${path}`);
  }
  const result: UnpackResult = {
    ...expected,
    digest: digest(r, "digest"),
    layers: wholeNumber(r, "layers"),
    files: wholeNumber(r, "files"),
    bytes: wholeNumber(r, "bytes"),
  };
  if (optionalLine(r, "manifestDigest") !== undefined) result.manifestDigest = digest(r, "manifestDigest");
  return result;
}

/** The body of unpack's `resolved` event: the digest a registry reference names (its manifest's or index's). */
export function parseResolvedEvent(raw: unknown): { digest: string } {
  return { digest: digest(resultObject(raw, "resolved event"), "digest") };
}
