// Registry credentials from the auth files `docker login` and `podman login`
// write, read by the coordinator as the user who runs it (the unpack stage
// gets only the one registry's username and password, in its request).
//
// Which file, as skopeo and podman look: --authfile FILE, else
// $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, then
// $DOCKER_CONFIG/config.json (default ~/.docker/config.json); the first that
// exists is read. Its "auths" map keys are registries ("host:port", also
// with a scheme and path as old Docker wrote them: "https://host/v1/"), or a
// registry and repository path ("host/team"), which wins for the
// repositories under it. An entry holds "auth" (base64 of user:password) or
// "username" and "password". Credential helpers (credsStore, credHelpers)
// and identity tokens are not run or used: an image that needs no password
// is pulled all the same, and one that does is refused with a note saying
// where its credentials are kept (`unusable`).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** --authfile's help, the same for unpack and pipeline. */
export const AUTHFILE_HELP = "Registry credentials: an auth file as docker login or podman login writes it (default: $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json, then ~/.docker/config.json)";

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** What the auth file has for a registry: its credentials, or why the file's way of keeping them cannot be used. */
export interface AuthLookup {
  credentials?: RegistryCredentials;
  unusable?: string;
}

/** An auth file that cannot be used; the message names the file. */
export class AuthFileError extends Error {
  override name = "AuthFileError";
}

/** The auth files looked at when none is given, in order. */
export function defaultAuthFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const files: string[] = [];
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, "containers", "auth.json"));
  files.push(join(env.DOCKER_CONFIG || join(env.HOME || homedir(), ".docker"), "config.json"));
  return files;
}

/**
 * The credentials for `repository` on `registry` ("host:port"), from `file`
 * when given (it must exist), else from the first default file that exists;
 * {} when no file has an entry for it. Throws AuthFileError for a file that
 * cannot be read as an auth file.
 */
export function registryCredentials(registry: string, repository: string, file?: string, env: NodeJS.ProcessEnv = process.env): AuthLookup {
  const path = file ?? defaultAuthFiles(env).find((f) => existsSync(f));
  if (path === undefined) return {};
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AuthFileError(`auth file ${path}: ${code === "ENOENT" ? "no such file" : err instanceof SyntaxError ? `not JSON (${err.message})` : (err as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new AuthFileError(`auth file ${path}: expected a JSON object`);
  const { auths, credsStore, credHelpers } = doc as { auths?: unknown; credsStore?: unknown; credHelpers?: unknown };
  const key = auths !== undefined ? bestKey(auths, path, registry, repository) : undefined;
  if (key === undefined) {
    const helper = typeof credHelpers === "object" && credHelpers !== null ? (credHelpers as Record<string, unknown>)[registry] : undefined;
    const store = typeof helper === "string" ? helper : typeof credsStore === "string" ? credsStore : undefined;
    if (store !== undefined) {
      return { unusable: `auth file ${path} keeps ${registry}'s credentials with the credential helper docker-credential-${store}, which bencher-run does not run: give them in an auth file of their own (--authfile FILE holding {"auths": {"${registry}": {"auth": "<base64 of user:password>"}}})` };
    }
    return {};
  }
  return entryCredentials((auths as Record<string, unknown>)[key], `auth file ${path}: auths[${JSON.stringify(key)}]`);
}

/** The "auths" key that names `registry` (and, when it has a path, the repository's place), the longest path winning. */
function bestKey(auths: unknown, path: string, registry: string, repository: string): string | undefined {
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) throw new AuthFileError(`auth file ${path}: "auths" must be an object`);
  const host = registry.toLowerCase();
  let best: { key: string; depth: number } | undefined;
  for (const key of Object.keys(auths)) {
    // "https://host:port/v1/" (old Docker) names the registry alone; "host/team" a part of it.
    const bare = key.replace(/^[a-z]+:\/\//i, "");
    const legacy = bare !== key;
    const [keyHost, ...rest] = bare.split("/");
    if (keyHost.toLowerCase() !== host) continue;
    const keyPath = legacy ? [] : rest.filter((part) => part !== "");
    const repoPath = repository.split("/");
    if (keyPath.some((part, i) => repoPath[i] !== part)) continue;
    if (best === undefined || keyPath.length > best.depth) best = { key, depth: keyPath.length };
  }
  return best?.key;
}

function entryCredentials(entry: unknown, where: string): AuthLookup {
  if (typeof entry !== "object" || entry === null) throw new AuthFileError(`${where}: expected an object`);
  const { auth, username, password, identitytoken } = entry as Record<string, unknown>;
  if (typeof auth === "string" && auth !== "") {
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) throw new AuthFileError(`${where}.auth: expected the base64 of user:password`);
    return { credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } };
  }
  if (typeof username === "string" && username !== "" && typeof password === "string") return { credentials: { username, password } };
  if (typeof identitytoken === "string" && identitytoken !== "") return { unusable: `${where} holds an identity token (an OAuth refresh token), which bencher-run does not use: give a username and password` };
  throw new AuthFileError(`${where}: has no "auth" (base64 of user:password), nor "username" and "password"`);
}
