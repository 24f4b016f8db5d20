// HTTP(S) GET for the registry client, on node:http/node:https rather than
// fetch: Node 20's fetch cannot be given extra CA certificates (its undici is
// not importable), and a registry with a private CA is common. Answers are
// web Responses, as fetch gives them. Redirects are followed (registries send
// blob downloads to a CDN), without the Authorization header once they leave
// the origin it was meant for, as fetch does.

import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import { rootCertificates } from "node:tls";
import { Readable } from "node:stream";

const MAX_REDIRECTS = 10;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
/** From sending a request to the answer's headers, connecting included: a registry answers in well under a second. */
export const ANSWER_TIMEOUT_MS = 30_000;
/** An answer's body silent this long mid-download is given up (a CDN under load can pause, not for this long). */
export const BODY_IDLE_TIMEOUT_MS = 60_000;

/** The server stopped answering: worth one more try, not several (each costs a whole timeout). */
export class ServerSilentError extends Error {
  override name = "ServerSilentError";
}

export interface HttpTimeouts {
  answerMs: number;
  bodyIdleMs: number;
}

/** Connection pools for one client; `ca` adds trusted CA certificates (PEM) to the usual roots. */
export class HttpAgents {
  readonly http = new HttpAgent({ keepAlive: true });
  readonly https: HttpsAgent;
  constructor(ca: string[] = [], readonly timeouts: HttpTimeouts = { answerMs: ANSWER_TIMEOUT_MS, bodyIdleMs: BODY_IDLE_TIMEOUT_MS }) {
    this.https = new HttpsAgent({ keepAlive: true, ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}) });
  }
}

export interface HttpGetOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function send(url: URL, headers: Record<string, string>, agents: HttpAgents, signal?: AbortSignal): Promise<IncomingMessage> {
  const { answerMs, bodyIdleMs } = agents.timeouts;
  return new Promise((resolve, reject) => {
    const options = { headers, signal };
    const answered = (res: IncomingMessage) => {
      clearTimeout(answerTimer);
      res.setTimeout(bodyIdleMs, () => res.destroy(new ServerSilentError(`the download stalled: no data for ${seconds(bodyIdleMs)}`)));
      resolve(res);
    };
    const req = url.protocol === "https:"
      ? httpsRequest(url, { ...options, agent: agents.https }, answered)
      : httpRequest(url, { ...options, agent: agents.http }, answered);
    const answerTimer = setTimeout(() => req.destroy(new ServerSilentError(`no answer for ${seconds(answerMs)}`)), answerMs);
    req.on("error", (err) => {
      clearTimeout(answerTimer);
      reject(err);
    });
    req.end();
  });
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function toResponse(res: IncomingMessage, url: URL): Response {
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 599) {
    res.destroy();
    throw new Error(`${url.origin} answered with status ${status}`);
  }
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  const body = status === 204 || status === 205 || status === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
  if (!body) res.resume();
  return new Response(body, { status, headers });
}

/** GETs `url`, following redirects; rejects with the network or TLS error (see describeTlsError). */
export async function httpGet(url: URL | string, agents: HttpAgents, options: HttpGetOptions = {}): Promise<Response> {
  let current = new URL(url);
  const origin = current.origin;
  for (let redirects = 0; ; redirects++) {
    if (current.protocol !== "http:" && current.protocol !== "https:") throw new Error(`cannot fetch ${current.protocol} URLs`);
    const headers = { ...options.headers };
    if (current.origin !== origin) {
      for (const name of Object.keys(headers)) if (name.toLowerCase() === "authorization") delete headers[name];
    }
    const res = await send(current, headers, agents, options.signal);
    const location = res.headers.location;
    if (!REDIRECT_STATUS.has(res.statusCode ?? 0) || !location) return toResponse(res, current);
    res.destroy(); // a redirect's body is not wanted, and a hostile server's may never end
    if (redirects >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    current = new URL(location, current);
  }
}

const UNTRUSTED = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE",
]);
const REFUSED = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID", "CERT_REVOKED", "CERT_REJECTED", "INVALID_CA", "INVALID_PURPOSE"]);

/**
 * What went wrong, when `err` is a TLS failure (which no retry fixes): the
 * server's certificate is not trusted, not for this host or otherwise
 * refused, or the server does not speak TLS at all. Null for anything else.
 */
export function describeTlsError(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== "string") return null;
  if (UNTRUSTED.has(code)) return `its TLS certificate is not trusted (${err.message}); give the CA certificate that signed it with --registry-ca FILE`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    const names = (err as { cert?: { subjectaltname?: string } }).cert?.subjectaltname;
    return `its TLS certificate is not valid for this host (${err.message.replace(/:\s*$/, "")}${names ? `; it is for ${names}` : ""})`;
  }
  if (REFUSED.has(code)) return `its TLS certificate is refused (${err.message})`;
  // OpenSSL's answer to a peer that is not speaking TLS: "…:SSL routines:ssl3_get_record:wrong version number:…".
  const reason = /SSL routines:[^:]*:(wrong version number|packet length too long|http request)/.exec(err.message)?.[1];
  if (reason) return `TLS handshake failed (${reason}): does it speak plain HTTP? (--plain-http)`;
  return null;
}
