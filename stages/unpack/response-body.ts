// Reads an HTTP answer's body up to a cap: a registry or token service is
// remote input, and an endless body must not grow this process without bound.

/** An answer's first `limit` bytes; `whole` says whether that was all of it (the rest is not read). */
export async function readCapped(response: Response, limit: number): Promise<{ bytes: Buffer; whole: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (!response.body) return { bytes: Buffer.alloc(0), whole: true };
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { bytes: Buffer.concat(chunks), whole: true };
      const room = limit - size;
      if (value.byteLength > room) {
        chunks.push(Buffer.from(value.subarray(0, room)));
        return { bytes: Buffer.concat(chunks), whole: false };
      }
      chunks.push(Buffer.from(value));
      size += value.byteLength;
    }
  } finally {
    // An answer cut short: stop its download (a no-op when it ended).
    await reader.cancel().catch(() => {});
  }
}
