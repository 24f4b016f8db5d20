// Docker's rules for what a container runs, in one place: the guest only
// execs the argv, env, working directory and user decided here.
// (https://docs.docker.com/reference/dockerfile/#understand-how-cmd-and-entrypoint-interact)

/** The parts of an image config that decide the command (config.json of unpack). */
export interface ImageRunConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env?: string[] | null;
  workingDir?: string | null;
  user?: string | null;
}

/** What the user asked for on top of the image, like `docker run` flags. */
export interface RunOverrides {
  /** `--entrypoint`: replaces the image's ENTRYPOINT and drops its CMD; [] clears it. */
  entrypoint?: string[];
  /** Arguments after the image name: replace CMD. An empty list means "not given", as in Docker. */
  cmd?: string[];
  /** `-e NAME=value`, applied over the image's env; a bare `NAME` removes it (the Docker daemon's rule). */
  env?: string[];
  /** `-w`: absolute path. */
  workingDir?: string;
  /** `-u`: name, uid, name:group, uid:gid; "" means not given (the image's USER), as in Docker. */
  user?: string;
}

export interface RunSpec {
  argv: string[];
  env: string[];
  workingDir: string;
  user: string;
}

/** Docker's PATH when the image sets none. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The shell form of a command, as a Dockerfile stores `CMD echo hi`. */
export function shellForm(command: string): string[] {
  return ["/bin/sh", "-c", command];
}

/** ENTRYPOINT + CMD with overrides, as Docker combines them. Throws if nothing is left to run. */
export function resolveCommand(image: Pick<ImageRunConfig, "entrypoint" | "cmd">, overrides: Pick<RunOverrides, "entrypoint" | "cmd"> = {}): string[] {
  const entrypoint = overrides.entrypoint ?? image.entrypoint ?? [];
  // Overriding the entrypoint discards the image's CMD (docker run --entrypoint).
  const cmd = overrides.cmd?.length ? overrides.cmd : overrides.entrypoint !== undefined ? [] : image.cmd ?? [];
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw new Error("no command to run: the image has no ENTRYPOINT or CMD and none was given");
  if (argv[0] === "") throw new Error("command to run: the program name is empty");
  argv.forEach((arg, i) => {
    if (typeof arg !== "string" || arg.includes("\0")) throw new Error(`command to run: argument ${i} ${JSON.stringify(arg)} is not a string without NUL`);
  });
  return argv;
}

function envName(entry: string, what: string): string {
  const eq = entry.indexOf("=");
  // runc refuses an entry without "=" too ("invalid environment variable: missing '='").
  if (eq <= 0 || entry.includes("\0")) throw new Error(`${what} ${JSON.stringify(entry)} is not NAME=value`);
  return entry.slice(0, eq);
}

/** A bare NAME among the overrides: the variable is to be removed from the image's env. */
export function isEnvRemoval(entry: string): boolean {
  return entry !== "" && !entry.includes("=") && !entry.includes("\0");
}

/**
 * Image env with overrides replacing same-named entries (a bare NAME removes
 * one, as `docker run -e NAME` does when the caller has no NAME), then
 * Docker's default PATH if none.
 */
export function resolveEnv(imageEnv: readonly string[] | null | undefined, overrides: readonly string[] = []): string[] {
  const merged = new Map<string, string>();
  for (const entry of imageEnv ?? []) merged.set(envName(entry, "image env entry"), entry);
  for (const entry of overrides) {
    if (isEnvRemoval(entry)) merged.delete(entry);
    else merged.set(envName(entry, "env override"), entry); // replaces in place, as Docker does
  }
  if (!merged.has("PATH")) merged.set("PATH", `PATH=${DEFAULT_PATH}`);
  return [...merged.values()];
}

/** Everything the guest needs to start the command. */
export function resolveRunSpec(image: ImageRunConfig, overrides: RunOverrides = {}): RunSpec {
  const workingDir = overrides.workingDir ?? (image.workingDir || "/");
  if (!workingDir.startsWith("/")) throw new Error(`working directory ${JSON.stringify(workingDir)} is not an absolute path`);
  // An empty --user is no --user (Docker's rule): never a quiet switch to root over the image's USER.
  const user = overrides.user || image.user || "";
  if (user.includes("\0") || /\s/.test(user)) throw new Error(`user ${JSON.stringify(user)} is not a name, uid, name:group or uid:gid`);
  return { argv: resolveCommand(image, overrides), env: resolveEnv(image.env, overrides.env), workingDir, user };
}
