// A bzImage is a real-mode setup part plus a compressed vmlinux (the
// "payload"). We skip its decompressor (slow when CPL0 is emulated) and pull
// the ELF vmlinux out of the payload on the host.
import { createRequire } from "node:module";

// zlib and child_process are loaded for a bzImage only: most boots load a
// vmlinux, and the two cost ~7 ms of the VMM's start-up here.
const require = createRequire(import.meta.url);

export interface BzImage {
  /** The setup header (boot_params bytes 0x1f1 up to its end), for the zero page. */
  setupHeader: Uint8Array;
  /** The decompressed ELF vmlinux. */
  vmlinux: Uint8Array;
}

const HDRS = 0x53726448; // "HdrS"

export function isBzImage(image: Uint8Array): boolean {
  if (image.length < 0x260) return false;
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return v.getUint16(0x1fe, true) === 0xaa55 && v.getUint32(0x202, true) === HDRS;
}

type Format = { name: string; magic: number[]; tool?: string[] };
const FORMATS: Format[] = [
  { name: "gzip", magic: [0x1f, 0x8b] },
  { name: "xz", magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], tool: ["xz", "-dc", "--single-stream"] },
  { name: "zstd", magic: [0x28, 0xb5, 0x2f, 0xfd], tool: ["zstd", "-dcq"] },
  { name: "lz4", magic: [0x02, 0x21, 0x4c, 0x18], tool: ["lz4", "-dcq"] },
  { name: "bzip2", magic: [0x42, 0x5a, 0x68], tool: ["bzip2", "-dcq"] },
  { name: "lzma", magic: [0x5d, 0x00, 0x00], tool: ["xz", "--format=lzma", "-dc"] },
];

export function parseBzImage(image: Uint8Array, what = "kernel"): BzImage {
  if (!isBzImage(image)) throw new Error(`${what}: not a bzImage (no boot sector signature or HdrS header)`);
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const version = v.getUint16(0x206, true);
  if (version < 0x208) throw new Error(`${what}: boot protocol ${version.toString(16)} is older than 2.08 (no payload fields)`);
  const setupSects = image[0x1f1] || 4;
  const pmStart = (setupSects + 1) * 512;
  const payloadOffset = v.getUint32(0x248, true);
  const payloadLength = v.getUint32(0x24c, true);
  const start = pmStart + payloadOffset;
  if (payloadLength === 0 || start + payloadLength > image.length) {
    throw new Error(`${what}: bzImage payload 0x${start.toString(16)}+0x${payloadLength.toString(16)} lies outside the file`);
  }
  const payload = image.subarray(start, start + payloadLength);
  const headerEnd = 0x202 + image[0x201];
  return { setupHeader: image.slice(0x1f1, headerEnd), vmlinux: decompress(payload, what) };
}

function decompress(payload: Uint8Array, what: string): Uint8Array {
  const format = FORMATS.find((f) => f.magic.every((b, i) => payload[i] === b));
  if (!format) throw new Error(`${what}: bzImage payload compression not recognised`);
  if (!format.tool) return new Uint8Array((require("node:zlib") as typeof import("node:zlib")).gunzipSync(payload));
  // The kernel build appends the decompressed size (4 bytes) to these formats.
  const input = payload.subarray(0, payload.length - 4);
  const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
  const out = spawnSync(format.tool[0], format.tool.slice(1), { input, maxBuffer: 1 << 30 });
  if (out.error || out.status !== 0) {
    const why = out.error ? out.error.message : out.stderr.toString().trim();
    throw new Error(`${what}: cannot decompress the ${format.name} bzImage payload with ${format.tool[0]}: ${why}`);
  }
  return new Uint8Array(out.stdout);
}
