// A client for the OCI distribution API (pull side): manifests and blobs
// over HTTPS (or plain HTTP: see registryScheme), with anonymous, basic and bearer-token auth (the token flow
// of Docker's registry auth spec) and retries on transient failures,
// including resuming a blob download that broke off midway (Range requests).

import { Readable } from "node:stream";
import { UnpackError } from "./image-root.js";
import type { Reference } from "./reference.js";
import type { RegistryAuth } from "./request.js";
import { describeTlsError, httpGet, HttpAgents, ServerSilentError, type HttpTimeouts } from "./http-get.js";
import { readCapped } from "./response-body.js";

export interface RegistryOptions {
  auth?: RegistryAuth;
  /** true: plain HTTP; false: HTTPS even on loopback; unset: see registryScheme. */
  plainHttp?: boolean;
  /** Extra CA certificates (PEM) to trust for HTTPS, besides the usual roots. */
  ca?: string[];
  signal?: AbortSignal;
  /** Attempts per request (first try included). */
  attempts?: number;
  /** First retry delay in ms; doubles each time. */
  retryDelayMs?: number;
  /** How long to wait for an answer, and for a stalled download (http-get.ts's defaults). */
  timeouts?: HttpTimeouts;
  /** Told before each retry: why, and what is tried again. */
  onRetry?: (message: string) => void;
}

/** Tries of one request or download when the server goes silent: each costs a whole timeout, and one that stalls twice will again. */
const SILENT_ATTEMPTS = 2;

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 10_000;
/** What is read of an error answer or a token answer: real ones are a few KiB, and a hostile one may never end. */
export const MAX_SMALL_ANSWER = 64 << 10;

function isLoopback(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, "").replace(/^\[|\]$/g, "").toLowerCase(); // host names are case-blind
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

/**
 * HTTPS, except when told plainHttp, or for a loopback registry (a test or
 * local registry, plain HTTP as Docker and crane assume) unless something asks
 * for TLS: plainHttp false, or a CA to check its certificate against.
 */
export function registryScheme(registry: string, options: Pick<RegistryOptions, "plainHttp" | "ca">): "http" | "https" {
  const wantsTls = options.plainHttp === false || (options.ca?.length ?? 0) > 0;
  if (options.plainHttp === true) {
    if (wantsTls) throw new UnpackError(`${registry}: a registry CA is for HTTPS, but plain HTTP was asked for`);
    return "http";
  }
  return wantsTls || !isLoopback(registry) ? "https" : "http";
}

/** Parses `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
  return { scheme, params };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

export class RegistryClient {
  private readonly base: string;
  private authorization: string | undefined;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly agents: HttpAgents;

  constructor(readonly ref: Reference, private readonly options: RegistryOptions = {}) {
    this.base = `${registryScheme(ref.registry, options)}://${ref.registry}/v2/${ref.repository}`;
    this.agents = new HttpAgents(options.ca, options.timeouts);
    this.attempts = options.attempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 250;
    if (options.auth?.token) this.authorization = `Bearer ${options.auth.token}`;
  }

  private basicCredentials(): string | undefined {
    const { username, password } = this.options.auth ?? {};
    if (username === undefined) return undefined;
    return "Basic " + Buffer.from(`${username}:${password ?? ""}`).toString("base64");
  }

  /**
   * GETs a path under /v2/<name>/, answering one auth challenge and retrying
   * transient failures. Returns a successful (2xx) response.
   */
  async get(path: string, headers: Record<string, string> = {}, what = path): Promise<Response> {
    let answeredChallenge = false;
    let silences = 0;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await httpGet(`${this.base}/${path}`, this.agents, {
          headers: { ...headers, ...(this.authorization ? { Authorization: this.authorization } : {}) },
          signal: this.options.signal,
        });
      } catch (err) {
        if (this.options.signal?.aborted) throw err;
        const tls = describeTlsError(err);
        if (tls) throw new UnpackError(`registry ${this.ref.registry}: ${tls}`);
        // The name server's definite answer (EAI_AGAIN, a name server not answering, is tried again).
        if ((err as NodeJS.ErrnoException).code === "ENOTFOUND") throw new UnpackError(`${this.ref.registry}: ${what}: no such host (the name server does not know it)`);
        if (err instanceof ServerSilentError) silences++;
        if (attempt >= this.attempts || silences >= SILENT_ATTEMPTS) {
          throw new UnpackError(`${this.ref.registry}: ${what}: ${describeFetchError(err)} (after ${attempt} attempts)`);
        }
        this.options.onRetry?.(`${this.ref.registry}: ${what}: ${describeFetchError(err)}; trying again (attempt ${attempt + 1} of ${err instanceof ServerSilentError ? SILENT_ATTEMPTS : this.attempts})`);
        await this.backoff(attempt);
        continue;
      }
      if (response.status === 401 && !answeredChallenge) {
        await response.body?.cancel();
        answeredChallenge = true;
        await this.answerChallenge(response.headers.get("www-authenticate") ?? "", what);
        attempt--; // the challenge round is not a failure
        continue;
      }
      if (RETRY_STATUS.has(response.status) && attempt < this.attempts) {
        await response.body?.cancel();
        await this.backoff(attempt, response.headers.get("retry-after"));
        continue;
      }
      if (!response.ok) {
        const body = await readCapped(response, MAX_SMALL_ANSWER).then((r) => r.bytes.toString("utf8"), () => "");
        const hint = response.status === 401 || response.status === 403 ? " (credentials missing or refused)"
          : response.status === 400 && /HTTP request to an HTTPS server/.test(body) ? " (it speaks HTTPS: ask for it with --no-plain-http or --registry-ca FILE)" : "";
        const said = describeErrorBody(body, response.headers.get("content-type") ?? "");
        throw new UnpackError(`${this.ref.registry}: ${what}: HTTP ${response.status}${hint}${said ? `: ${said}` : ""}`);
      }
      return response;
    }
  }

  private async backoff(attempt: number, retryAfter?: string | null): Promise<void> {
    const seconds = retryAfter ? Number(retryAfter) : NaN;
    const ms = Number.isFinite(seconds) ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : this.retryDelayMs * 2 ** (attempt - 1);
    await sleep(ms, this.options.signal);
  }

  private async answerChallenge(header: string, what: string): Promise<void> {
    const { scheme, params } = parseChallenge(header);
    if (scheme === "basic") {
      const basic = this.basicCredentials();
      if (!basic) throw new UnpackError(`${this.ref.registry}: ${what}: registry wants a username and password, and none were found (docker login or podman login writes them to an auth file; bencher-run reads it, or the one --authfile names)`);
      this.authorization = basic;
      return;
    }
    if (scheme !== "bearer" || !params.realm) {
      throw new UnpackError(`${this.ref.registry}: ${what}: unsupported auth challenge ${JSON.stringify(header.slice(0, 100))}`);
    }
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set("scope", params.scope ?? `repository:${this.ref.repository}:pull`);
    const basic = this.basicCredentials();
    let response: Response | undefined;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        response = await httpGet(url, this.agents, { headers: basic ? { Authorization: basic } : {}, signal: this.options.signal });
      } catch (err) {
        const tls = describeTlsError(err);
        if (tls) throw new UnpackError(`token service ${url.origin}: ${tls}`);
        if (this.options.signal?.aborted || attempt === this.attempts) {
          throw new UnpackError(`token service ${url.origin}: ${describeFetchError(err)}`);
        }
        await this.backoff(attempt);
        continue;
      }
      if (RETRY_STATUS.has(response.status) && attempt < this.attempts) {
        await response.body?.cancel();
        await this.backoff(attempt, response.headers.get("retry-after"));
        continue;
      }
      break;
    }
    if (!response!.ok) {
      throw new UnpackError(`token service ${url.origin}: HTTP ${response!.status}${response!.status === 401 ? " (credentials refused)" : ""}`);
    }
    const answer = await readCapped(response!, MAX_SMALL_ANSWER).catch((err) => {
      throw new UnpackError(`token service ${params.realm}: reading its answer failed: ${describeFetchError(err)}`);
    });
    if (!answer.whole) throw new UnpackError(`token service ${params.realm}: its answer is over ${MAX_SMALL_ANSWER >> 10} KiB, too large for a token`);
    let body: { token?: unknown; access_token?: unknown } | null = null;
    try {
      body = JSON.parse(answer.bytes.toString("utf8"));
    } catch {
      // not JSON: said below as an answer without a token
    }
    const token = body && (typeof body.token === "string" ? body.token : typeof body.access_token === "string" ? body.access_token : undefined);
    if (!token) throw new UnpackError(`token service ${url.origin}: answer has no token`);
    this.authorization = `Bearer ${token}`;
  }

  /**
   * A blob's bytes as a stream. If the connection breaks midway, the rest is
   * fetched again from where it stopped (up to `attempts` times).
   */
  blob(digest: string, what: string): Readable {
    const client = this;
    async function* bytes(): AsyncGenerator<Buffer> {
      let delivered = 0;
      let silences = 0;
      for (let attempt = 1; ; attempt++) {
        const headers: Record<string, string> = delivered > 0 ? { Range: `bytes=${delivered}-` } : {};
        const response = await client.get(`blobs/${digest}`, headers, what);
        // A server that ignores Range sends everything again: skip what we have.
        let skip = delivered > 0 && response.status !== 206 ? delivered : 0;
        try {
          for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
            let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            if (skip > 0) {
              const n = Math.min(skip, buf.length);
              skip -= n;
              buf = buf.subarray(n);
              if (buf.length === 0) continue;
            }
            delivered += buf.length;
            yield buf;
          }
          return;
        } catch (err) {
          if (err instanceof ServerSilentError) silences++;
          if (client.options.signal?.aborted || attempt >= client.attempts || silences >= SILENT_ATTEMPTS) {
            throw new UnpackError(`${client.ref.registry}: ${what}: download failed: ${describeFetchError(err)}`);
          }
          client.options.onRetry?.(`${client.ref.registry}: ${what}: download broke off after ${delivered} bytes (${describeFetchError(err)}); resuming`);
          await client.backoff(attempt);
        }
      }
    }
    return Readable.from(bytes(), { objectMode: false, highWaterMark: 1 << 20 });
  }
}

/**
 * An error answer's body in a few words: a registry's own errors
 * ({"errors":[{"code","message"}]}, the distribution spec's) as "CODE:
 * message"; an HTML page as a sign that the server is no registry at all;
 * anything else cut short, on one line.
 */
export function describeErrorBody(body: string, contentType: string): string {
  const text = body.trim();
  if (text === "") return "";
  try {
    const errors = (JSON.parse(text) as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      return errors.slice(0, 3).map((e: { code?: unknown; message?: unknown }) =>
        [e.code, e.message].filter((v) => typeof v === "string" && v !== "").join(": ")).filter(Boolean).join("; ");
    }
  } catch {
    // not JSON
  }
  if (/html/i.test(contentType) || /^<(!doctype|html)/i.test(text)) return "an HTML page, not a registry's answer: is this a registry (the OCI distribution API, /v2/)?";
  const line = text.replace(/\s+/g, " ");
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}
