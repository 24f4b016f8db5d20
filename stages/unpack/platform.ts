// Platforms ("linux/amd64", "linux/arm64/v8") and picking one from an index.

import { UnpackError } from "./image-root.js";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export const DEFAULT_PLATFORM = "linux/amd64";

export function parsePlatform(text: string): Platform {
  const parts = text.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/i.test(p))) {
    throw new UnpackError(`platform ${JSON.stringify(text)} is not of the form os/architecture[/variant]`);
  }
  return { os: parts[0], architecture: parts[1], ...(parts[2] ? { variant: parts[2] } : {}) };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join("/");
}

/** Whether an index entry's platform serves the wanted one (no variant asked: any variant). */
export function platformMatches(offered: Partial<Platform> | undefined, wanted: Platform): boolean {
  if (!offered) return false;
  if (offered.os !== wanted.os || offered.architecture !== wanted.architecture) return false;
  return wanted.variant === undefined || offered.variant === wanted.variant;
}
