// Bytes in a JSON document: UTF-8 text where the bytes are valid UTF-8, plus
// an exact base64 twin where they are not, so binary output survives JSON.
// Shared by the collect stage's and the pipeline's --json documents.
import { isUtf8 } from "node:buffer";

export function jsonText(bytes: Buffer): { text: string; base64?: string } {
  return isUtf8(bytes) ? { text: bytes.toString("utf8") } : { text: bytes.toString("utf8"), base64: bytes.toString("base64") };
}

export interface JsonStreams {
  stdout: string;
  stdoutBase64?: string;
  stderr: string;
  stderrBase64?: string;
}

/** stdout/stderr as text, with base64 twins only where needed. */
export function jsonStreams(stdout: Buffer, stderr: Buffer): JsonStreams {
  const out = jsonText(stdout);
  const err = jsonText(stderr);
  return {
    stdout: out.text,
    ...(out.base64 !== undefined ? { stdoutBase64: out.base64 } : {}),
    stderr: err.text,
    ...(err.base64 !== undefined ? { stderrBase64: err.base64 } : {}),
  };
}

export interface JsonOutputs {
  outputs: Record<string, string | null>;
  outputsBase64?: Record<string, string>;
}

/** Output files (guest path → bytes, or null when missing) as text, with base64 twins only where needed. */
export function jsonOutputs(files: Iterable<[string, Buffer | null]>): JsonOutputs {
  const result: JsonOutputs = { outputs: {} };
  for (const [path, bytes] of files) {
    if (bytes === null) {
      result.outputs[path] = null;
      continue;
    }
    const content = jsonText(bytes);
    result.outputs[path] = content.text;
    if (content.base64 !== undefined) (result.outputsBase64 ??= {})[path] = content.base64;
  }
  return result;
}
