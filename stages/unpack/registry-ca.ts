// The extra CA certificates a registry's HTTPS is checked against
// (--registry-ca FILE): one or more PEM certificates, each checked to parse,
// so a wrong file is named here rather than as a TLS failure later.

import { readFileSync, statSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { UnpackError } from "./image-root.js";

/** A CA bundle is a few KiB; anything this large is not one. */
const MAX_CA_FILE_BYTES = 1 << 20;

export function readRegistryCa(file: string): string[] {
  const bad = (why: string) => new UnpackError(`registry CA file ${file}: ${why}`);
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw bad("not a regular file");
    if (st.size > MAX_CA_FILE_BYTES) throw bad(`${st.size} bytes, too large for PEM certificates`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof UnpackError) throw err;
    throw bad((err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message);
  }
  const pems = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) throw bad("holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  for (const [i, pem] of pems.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw bad(`certificate ${i + 1} does not parse (${(err as Error).message})`);
    }
  }
  return pems;
}
