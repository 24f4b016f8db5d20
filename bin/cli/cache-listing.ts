// `bencher-run cache` for people: one line per cached root image, newest use
// first, as `docker images` shows its images (--json keeps every field).
import { STALE_TEMP_MS, type CachedImage, type PruneResult, type UnfinishedBuilds } from "../../lib/rootfs-cache/cache.js";
import { escapeControls } from "../../lib/ipc/errors.js";
import { formatBytes } from "./format-bytes.js";

/** How an image is named: its image ID (config digest) when the sidecar has it, else its cache key. */
function imageName(image: CachedImage): string {
  return image.digest !== undefined ? image.digest.slice(0, 19) : `key ${image.key.slice(0, 12)}`;
}

/** Who vouched for the image ID: the image itself, or whoever claimed it (a registry reference, a directory given to mkrootfs). */
function source(image: CachedImage): string {
  if (image.origin === undefined) return "-";
  return "claimedBy" in image.origin ? `claimed: ${escapeControls(image.origin.claimedBy)}` : "image";
}

/** "2026-12-06 17:51" (UTC): minutes are enough to tell uses apart. */
function when(date: Date): string {
  return date.toISOString().slice(0, 16).replace("T", " ");
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row) => row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]!))).join("  "));
}

export function cacheListing(cacheRoot: string, images: CachedImage[], unfinished?: UnfinishedBuilds): string[] {
  const onDisk = images.reduce((sum, image) => sum + image.diskBytes, 0);
  const lines = [`cache: ${cacheRoot}`];
  if (unfinished && unfinished.count > 0) lines.push(unfinishedLine(unfinished));
  if (images.length === 0) return [...lines, "no root images cached"];
  lines.push(`${images.length} root image${images.length === 1 ? "" : "s"}, ${formatBytes(onDisk)} on disk (bencher-run cache prune --max-mib N keeps N MiB)`);
  const rows = [["IMAGE ID", "PLATFORM", "FS", "SIZE", "ON DISK", "LAST USED (UTC)", "SOURCE"]];
  for (const image of images) {
    rows.push([imageName(image), image.platform ?? "-", image.fs, formatBytes(image.bytes), formatBytes(image.diskBytes), when(image.lastUsed), source(image)]);
  }
  return [...lines, ...table(rows)];
}

/** Root images being built, or left by killed builds: they take disk space too. */
function unfinishedLine(u: UnfinishedBuilds): string {
  const minutes = STALE_TEMP_MS / 60_000;
  return `${u.count} unfinished build${u.count === 1 ? "" : "s"}, ${formatBytes(u.diskBytes)} on disk (running, or killed: prune removes one unchanged for ${minutes} minutes${u.stale ? `, as ${u.stale} ${u.stale === 1 ? "is" : "are"}` : ""})`;
}

export function pruneReport(pruned: PruneResult, staleRuns: number): string[] {
  return [
    `removed ${pruned.removed.length} root image${pruned.removed.length === 1 ? "" : "s"}${pruned.removed.length ? `: ${pruned.removed.map(imageName).join(", ")}` : ""}`,
    `freed ${formatBytes(pruned.freedBytes)}, kept ${formatBytes(pruned.keptBytes)}`,
    `stale run directories removed: ${staleRuns}`,
  ];
}
