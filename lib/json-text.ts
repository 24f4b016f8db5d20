// Bytes in a JSON document: UTF-8 text where the bytes are valid UTF-8, plus
// an exact base64 twin where they are not, so binary output survives JSON.
import { isUtf8 } from "node:buffer";

export function jsonText(bytes: Buffer): { text: string; base64?: string } {
  return isUtf8(bytes) ? { text: bytes.toString("utf8") } : { text: bytes.toString("utf8"), base64: bytes.toString("base64") };
}
