// The credentials a registry image is pulled with, found by the coordinator
// (as the user who runs it) in the user's auth file, for unpack and pipeline.
import { AuthFileError, registryCredentials, type AuthLookup } from "../../lib/oci/auth-file.js";
import { parseLocalImage } from "../../stages/unpack/local-image.js";
import { parseReference } from "../../stages/unpack/reference.js";

/**
 * What the auth file (`authFile`, or the default ones) has for `image`, when
 * it is a registry reference. A reference that does not parse is left to
 * the stage, which names what is wrong. Throws AuthFileError for a file
 * that cannot be used.
 */
export function credentialsForImage(image: string, authFile?: string): AuthLookup {
  if (parseLocalImage(image)) return {};
  let ref;
  try {
    ref = parseReference(image);
  } catch {
    return {};
  }
  return registryCredentials(ref.registry, ref.repository, authFile);
}

/**
 * A failed pull whose registry wanted credentials the auth file keeps where
 * bencher-run cannot use them (a credential helper): the stage's error with
 * that said after it. Any other error is returned as it is.
 */
export function withAuthNote(err: unknown, lookup: AuthLookup): unknown {
  if (lookup.unusable === undefined || !(err instanceof Error)) return err;
  if (!/wants a username and password|credentials missing or refused/.test(err.message)) return err;
  err.message = `${err.message}; ${lookup.unusable}`;
  return err;
}

export { AuthFileError };
