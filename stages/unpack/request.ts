// The unpack stage's request: what to unpack and where.

export interface RegistryAuth {
  username?: string;
  password?: string;
  /** A ready bearer token, used as is. */
  token?: string;
}

/** The image and how to reach it. */
export interface ImageRequest {
  /**
   * An OCI layout directory, an OCI archive, a docker-save tar or directory
   * (optionally prefixed "oci:", "oci-archive:", "docker-archive:"), or a
   * registry reference "host[:port]/name[:tag|@sha256:…]" (optionally "docker://…").
   */
  image: string;
  /** "os/arch[/variant]"; default linux/amd64. */
  platform?: string;
  auth?: RegistryAuth;
  /**
   * true: talk plain HTTP to the registry; false: HTTPS, even to a loopback
   * host. Unset: HTTPS, except plain HTTP to a loopback host given no registryCa.
   */
  plainHttp?: boolean;
  /** A PEM file of CA certificates to trust for the registry's HTTPS, besides the usual roots. */
  registryCa?: string;
}

export interface UnpackRequest extends ImageRequest {
  /** Directory to create (or an empty one) for rootfs/, metadata.jsonl, config.json. */
  out: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalString(raw: Record<string, unknown>, key: string, where = "unpack request"): string | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw new Error(`${where}: "${key}" must be a non-empty string`);
  return v;
}

export function parseUnpackRequest(raw: unknown): UnpackRequest {
  if (!isObject(raw)) throw new Error("unpack request: expected an object");
  const known = new Set(["image", "out", "platform", "auth", "plainHttp", "registryCa"]);
  for (const key of Object.keys(raw)) if (!known.has(key)) throw new Error(`unpack request: unknown field "${key}"`);
  const image = optionalString(raw, "image");
  const out = optionalString(raw, "out");
  if (!image) throw new Error('unpack request: "image" is required');
  if (!out) throw new Error('unpack request: "out" is required');
  const req: UnpackRequest = { image, out };
  const platform = optionalString(raw, "platform");
  if (platform !== undefined) {
    if (!/^[a-z0-9_.-]+\/[a-z0-9_.-]+(\/[a-z0-9_.-]+)?$/i.test(platform)) {
      throw new Error(`unpack request: platform ${JSON.stringify(platform)} is not os/arch[/variant]`);
    }
    req.platform = platform;
  }
  if (raw.auth !== undefined) {
    if (!isObject(raw.auth)) throw new Error('unpack request: "auth" must be an object');
    for (const key of Object.keys(raw.auth)) {
      if (!["username", "password", "token"].includes(key)) throw new Error(`unpack request: unknown auth field "${key}"`);
    }
    req.auth = {
      username: optionalString(raw.auth, "username", "unpack request auth"),
      password: optionalString(raw.auth, "password", "unpack request auth"),
      token: optionalString(raw.auth, "token", "unpack request auth"),
    };
  }
  if (raw.plainHttp !== undefined) {
    if (typeof raw.plainHttp !== "boolean") throw new Error('unpack request: "plainHttp" must be a boolean');
    req.plainHttp = raw.plainHttp;
  }
  const registryCa = optionalString(raw, "registryCa");
  if (registryCa !== undefined) req.registryCa = registryCa;
  return req;
}
