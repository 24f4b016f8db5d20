// Where run work directories live: one root, so cleanup and `cache` can find them.
import { join, resolve } from "node:path";
import { cacheRoot } from "../paths.js";

/** $BENCHER_RUN_WORKDIR, else cacheRoot()/runs. (--workdir on the command line overrides both.) */
export function defaultWorkRoot(): string {
  const fromEnv = process.env.BENCHER_RUN_WORKDIR;
  if (fromEnv) return resolve(fromEnv);
  return join(cacheRoot(), "runs");
}
