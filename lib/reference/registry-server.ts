// A real registry (Debian's docker-registry, distribution 2.8) on loopback for
// tests and benchmarks, optionally serving HTTPS and behind htpasswd or token
// auth, plus a token service and a misbehaving TCP proxy to exercise retries.
// Everything stops in stop(). Not used by the product itself.
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket, type AddressInfo } from "node:net";
import { createSign, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import koffi from "koffi";

export async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A bcrypt htpasswd line, hashed by the system's libcrypt (docker-registry accepts only bcrypt). */
export function htpasswdLine(user: string, password: string): string {
  const lib = koffi.load("libcrypt.so.1");
  const gensalt = lib.func("const char *crypt_gensalt(const char *prefix, unsigned long count, const char *rbytes, int nrbytes)");
  const crypt = lib.func("const char *crypt(const char *phrase, const char *setting)");
  const salt = gensalt("$2b$", 5, null, 0) as string;
  return `${user}:${crypt(password, salt) as string}\n`;
}

export interface TokenService {
  realm: string;
  service: string;
  issuer: string;
  certFile: string;
  /** Scopes asked for, in order, with the user ("" when anonymous). */
  requests: Array<{ user: string; scope: string }>;
  close(): Promise<void>;
}

/** Issues RS256 JWTs (certificate in x5c) to one user, as Docker's token auth spec describes. */
export async function startTokenService(dir: string, user: string, password: string): Promise<TokenService> {
  const keyFile = join(dir, "token.key");
  const certFile = join(dir, "token.crt");
  await execa("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=bencher-test-token"]);
  const key = readFileSync(keyFile, "utf8");
  const x5c = new X509Certificate(readFileSync(certFile)).raw.toString("base64");
  const service = "bencher-test-registry";
  const issuer = "bencher-test-issuer";
  const requests: TokenService["requests"] = [];
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");

  const server: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const auth = req.headers.authorization ?? "";
    const given = auth.startsWith("Basic ") ? Buffer.from(auth.slice(6), "base64").toString() : "";
    const scope = url.searchParams.getAll("scope").join(" ");
    requests.push({ user: given.split(":")[0], scope });
    if (given !== `${user}:${password}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"details":"bad credentials"}');
      return;
    }
    const access = url.searchParams.getAll("scope").map((s) => {
      const [type, name, actions] = s.split(":");
      return { type, name, actions: actions.split(",") };
    });
    const now = Math.floor(Date.now() / 1000);
    const head = b64({ alg: "RS256", typ: "JWT", x5c: [x5c] });
    const claims = b64({ iss: issuer, sub: user, aud: service, exp: now + 600, nbf: now - 60, iat: now, jti: randomBytes(8).toString("hex"), access });
    const signature = createSign("RSA-SHA256").update(`${head}.${claims}`).sign(key).toString("base64url");
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: `${head}.${claims}.${signature}`, expires_in: 600 }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    realm: `http://127.0.0.1:${port}/token`, service, issuer, certFile, requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface Registry {
  /** "127.0.0.1:PORT" */
  host: string;
  storage: string;
  /** The docker-registry process (gone after stop()). */
  pid: number;
  /** Its config and storage (removed by stop()). */
  dir: string;
  stop(): Promise<void>;
}

export type RegistryAuthConfig =
  | { kind: "htpasswd"; user: string; password: string }
  | { kind: "token"; tokens: TokenService };

export interface RegistryOptions {
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { cert: string; key: string };
}

export async function startRegistry(auth?: RegistryAuthConfig, options: RegistryOptions = {}): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), "test-registry-"));
  const port = await freePort();
  let authYaml = "";
  if (auth?.kind === "htpasswd") {
    writeFileSync(join(dir, "htpasswd"), htpasswdLine(auth.user, auth.password));
    authYaml = `auth:\n  htpasswd:\n    realm: bencher-test\n    path: ${join(dir, "htpasswd")}\n`;
  } else if (auth?.kind === "token") {
    const t = auth.tokens;
    authYaml = `auth:\n  token:\n    realm: ${t.realm}\n    service: ${t.service}\n    issuer: ${t.issuer}\n    rootcertbundle: ${t.certFile}\n`;
  }
  const tlsYaml = options.tls ? `  tls:\n    certificate: ${options.tls.cert}\n    key: ${options.tls.key}\n` : "";
  const config = join(dir, "config.yml");
  writeFileSync(config, `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: bencher-test\n${tlsYaml}${authYaml}`);
  const child: ResultPromise = execa("docker-registry", ["serve", config], { reject: false, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      // Any answer means it listens (over TLS, plain HTTP gets "400 Client sent an HTTP request to an HTTPS server").
      const res = await fetch(`http://${host}/v2/`);
      await res.body?.cancel();
      break;
    } catch {
      if (i > 100 || child.exitCode !== null) {
        child.kill();
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`docker-registry did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    host,
    storage: join(dir, "data"),
    pid: child.pid!,
    dir,
    stop: async () => {
      child.kill("SIGTERM");
      await child;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type ProxyFault =
  /** The first `count` connections are closed at once. */
  | { kind: "reset"; count: number }
  /** The first `count` connections get "503 Service Unavailable". */
  | { kind: "unavailable"; count: number }
  /** The first connection is cut after `bytes` bytes went to the client. */
  | { kind: "cut"; bytes: number }
  /** The first `count` connections are accepted and never answered. */
  | { kind: "silent"; count: number }
  /** The first `count` connections pass `bytes` bytes to the client, then send nothing more, open. */
  | { kind: "stall"; bytes: number; count: number };

export interface FaultyProxy {
  host: string;
  connections: number;
  /** Everything clients sent, for checking e.g. Range headers. */
  sent: string[];
  close(): Promise<void>;
}

/** A TCP proxy in front of `target` that misbehaves as told, then forwards faithfully. */
export async function startFaultyProxy(target: string, fault: ProxyFault): Promise<FaultyProxy> {
  const [targetHost, targetPort] = target.split(":");
  const sockets = new Set<Socket>();
  const proxy: FaultyProxy = { host: "", connections: 0, sent: [], close: async () => {} };
  const server: TcpServer = createTcpServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    const n = ++proxy.connections;
    if (fault.kind === "reset" && n <= fault.count) {
      client.destroy();
      return;
    }
    if (fault.kind === "unavailable" && n <= fault.count) {
      client.once("data", () => client.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
      return;
    }
    if (fault.kind === "silent" && n <= fault.count) return;
    const upstream = connect(Number(targetPort), targetHost);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.on("data", (d) => {
      proxy.sent.push(d.toString("latin1"));
      upstream.write(d);
    });
    client.on("end", () => upstream.end());
    let forwarded = 0;
    upstream.on("data", (d) => {
      if (fault.kind === "stall" && n <= fault.count) {
        const room = fault.bytes - forwarded;
        forwarded += d.length;
        if (room > 0) client.write(d.subarray(0, room));
        return;
      }
      if (fault.kind === "cut" && n === 1) {
        const room = fault.bytes - forwarded;
        if (room <= 0) return;
        forwarded += d.length;
        if (d.length >= room) {
          client.write(d.subarray(0, room), () => client.destroy());
          upstream.destroy();
          return;
        }
      }
      client.write(d);
    });
    upstream.on("end", () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return proxy;
}

/** Pushes an OCI layout to the registry with skopeo. */
export async function pushWithSkopeo(layout: string, dest: string, options: { creds?: string; all?: boolean } = {}): Promise<void> {
  await execa("skopeo", [
    "copy", "-q", "--dest-tls-verify=false",
    ...(options.creds ? ["--dest-creds", options.creds] : []),
    ...(options.all ? ["--all"] : []),
    `oci:${layout}`, `docker://${dest}`,
  ]);
}
