// Pulling over the OCI distribution API from a real registry on loopback:
// anonymous, basic and bearer-token auth, multi-platform indexes, retries on
// transient failures, redirects, and blobs the registry serves corrupted.
// (HTTPS: registry-tls.test.ts.)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { execa } from "execa";
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { lookup } from "node:dns";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { buildImage, type BuildResult } from "../../../lib/oci/build-image.js";
import type { ImageDescription } from "../../../lib/oci/description.js";
import { unpack } from "../../../stages/unpack/unpack.js";
import { parseReference } from "../../../stages/unpack/reference.js";
import { describeErrorBody, RegistryClient } from "../../../stages/unpack/registry-client.js";
import { rejects, snapshot } from "./helpers.js";
import { pushWithSkopeo, startFaultyProxy, startRegistry, startTokenService, freePort, type Registry } from "../../../lib/reference/registry-server.js";

const work = mkdtempSync(join(tmpdir(), "unpack-registry-"));
const description: ImageDescription = {
  layers: [
    { compression: "zstd", entries: [{ type: "file", path: "/data/big", random: { size: 3 << 20, seed: 7 } }, { type: "file", path: "/data/owned", content: "x", uid: 33 }] },
    { compression: "none", entries: [{ type: "whiteout", path: "/etc/group" }] },
  ],
  config: { cmd: ["/bin/sh"] },
};
const layout = join(work, "layout");
let built: BuildResult;
let localTree: Record<string, string>;
let anonymous: Registry;

test.before(async () => {
  built = await buildImage(description, { format: "oci-dir", out: layout });
  localTree = snapshot((await unpack({ image: layout, out: join(work, "local") })).rootfs);
  anonymous = await startRegistry();
  await pushWithSkopeo(layout, `${anonymous.host}/bench/img:v1`);
});

test.after(async () => {
  await anonymous?.stop();
  rmSync(work, { recursive: true, force: true });
});

let outs = 0;
const freshOut = () => join(work, `out-${++outs}`);

test("references parse; bad ones are named", () => {
  assert.equal(parseReference("127.0.0.1:5000/a/b:v1"), { registry: "127.0.0.1:5000", repository: "a/b", tag: "v1", digest: undefined });
  assert.equal(parseReference("reg.example/x"), { registry: "reg.example", repository: "x", tag: "latest", digest: undefined });
  const d = "sha256:" + "a".repeat(64);
  assert.equal(parseReference(`localhost:1/x@${d}`), { registry: "localhost:1", repository: "x", tag: undefined, digest: d });
  assert.throws(() => parseReference("busybox"), /expected host\[:port\]\/name/);
  // A first part without "." or ":port" is a directory, as Docker reads it: a mistyped local path, not a host to look up.
  assert.throws(() => parseReference("results/my-bench.oci:v1"), (e: Error) => e.message === 'image reference "results/my-bench.oci:v1": no such local file or directory, and "results" is not a registry host (a host has a "." or a ":port", or is localhost)');
  assert.equal(parseReference("localhost/x").registry, "localhost");
  assert.equal(parseReference("LOCALHOST/x").registry, "LOCALHOST");
  assert.equal(parseReference("docker://127.0.0.1:5000/a/b:v1"), parseReference("127.0.0.1:5000/a/b:v1"), "skopeo's prefix is allowed");
  // Refused at once, not looked up five times as an invalid URL.
  assert.throws(() => parseReference("127.0.0.1:99999/x"), (e: Error) => e.message === 'image reference "127.0.0.1:99999/x": port 99999 is out of range (1 to 65535)');
  assert.throws(() => parseReference("127.0.0.1:0/x"), /port 0 is out of range/);
  assert.throws(() => parseReference("r.io/UPPER"), /not a valid repository name/);
  assert.throws(() => parseReference("r.io/x@sha256:zz"), /not a sha256\/sha512 digest/);
});

test("anonymous pull by tag and by digest gives the local tree", async () => {
  const byTag = await unpack({ image: `${anonymous.host}/bench/img:v1`, out: freshOut() });
  assert.equal(snapshot(byTag.rootfs), localTree);
  // skopeo may re-serialize the manifest on push: ask the registry (through skopeo) what it serves.
  const { stdout } = await execa("skopeo", ["inspect", "--tls-verify=false", `docker://${anonymous.host}/bench/img:v1`]);
  const served = JSON.parse(stdout).Digest;
  assert.is(byTag.manifestDigest, served);
  assert.is(byTag.digest, built.images[0].config.digest);
  const byDigest = await unpack({ image: `docker://${anonymous.host}/bench/img@${served}`, out: freshOut() });
  assert.equal(snapshot(byDigest.rootfs), localTree);
  assert.match(readFileSync(byDigest.metadata, "utf8"), /"\/data\/owned","uid":33/);
});

test("a multi-platform index pushed with --all serves each platform", async () => {
  const multi = join(work, "multi");
  await buildImage(
    [
      { base: "scratch", layers: [{ entries: [{ type: "file", path: "arch", content: "amd64" }] }] },
      { base: "scratch", layers: [{ entries: [{ type: "file", path: "arch", content: "arm64" }] }], platform: { os: "linux", architecture: "arm64" } },
    ],
    { format: "oci-dir", out: multi },
  );
  await pushWithSkopeo(multi, `${anonymous.host}/bench/multi:v1`, { all: true });
  const a = await unpack({ image: `${anonymous.host}/bench/multi:v1`, out: freshOut() });
  assert.is(readFileSync(join(a.rootfs, "arch"), "utf8"), "amd64");
  const b = await unpack({ image: `${anonymous.host}/bench/multi:v1`, out: freshOut(), platform: "linux/arm64" });
  assert.is(readFileSync(join(b.rootfs, "arch"), "utf8"), "arm64");
});

test("the digest a reference names is told (a `resolved` event) before anything else is fetched: a tag's is the one the registry serves, an index's for a multi-platform tag", async () => {
  const told: string[] = [];
  const events = (what: string) => ({
    event: (name: string, body: unknown) => told.push(`${what} ${name} ${JSON.stringify(body)}`),
    progress: (_fraction: number | null, message: string) => told.push(`${what} progress ${message}`),
  });
  await unpack({ image: `${anonymous.host}/bench/img:v1`, out: freshOut() }, events("img"));
  const { stdout } = await execa("skopeo", ["inspect", "--tls-verify=false", `docker://${anonymous.host}/bench/img:v1`]);
  const served = JSON.parse(stdout).Digest;
  assert.equal(told.slice(0, 2), [`img progress resolving ${anonymous.host}/bench/img:v1`, `img resolved {"digest":"${served}"}`]);
  assert.match(told[2], /^img progress unpacking layer 1\//, told[2]);
  assert.is(told.filter((line) => line.includes(" resolved ")).length, 1, "told once");
  // An index: its own digest (the reference a pull by digest would use), not the platform's manifest's.
  told.length = 0;
  await unpack({ image: `docker://${anonymous.host}/bench/multi:v1`, out: freshOut() }, events("multi"));
  const { stdout: raw } = await execa("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${anonymous.host}/bench/multi:v1`]);
  assert.match(raw, /"manifests"/, "an index");
  assert.is(told[1], `multi resolved {"digest":"sha256:${createHash("sha256").update(raw).digest("hex")}"}`);
  // By digest, the same digest; a local image tells nothing.
  told.length = 0;
  await unpack({ image: `${anonymous.host}/bench/img@${served}`, out: freshOut() }, events("pinned"));
  assert.is(told[1], `pinned resolved {"digest":"${served}"}`);
  told.length = 0;
  await unpack({ image: layout, out: freshOut() }, events("local"));
  assert.equal(told.filter((line) => line.includes(" resolved ")), []);
});

test("unknown tags, unreachable registries and corrupted blobs fail cleanly", async () => {
  const out = freshOut();
  // The registry's own error, not its JSON.
  await rejects(() => unpack({ image: `${anonymous.host}/bench/img:nope`, out }), /manifest .*bench\/img:nope: HTTP 404: MANIFEST_UNKNOWN: manifest unknown$/);
  // A web server that is not a registry.
  const web = createServer((_req, res) => res.writeHead(404, { "content-type": "text/html" }).end("<!DOCTYPE HTML>\n<html><body>Not found</body></html>"));
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  try {
    await rejects(() => unpack({ image: `127.0.0.1:${(web.address() as AddressInfo).port}/x/y:z`, out }),
      /: manifest 127\.0\.0\.1:\d+\/x\/y:z: HTTP 404: an HTML page, not a registry's answer: is this a registry \(the OCI distribution API, \/v2\/\)\?$/);
  } finally {
    await new Promise((resolve) => web.close(resolve));
  }
  const port = await freePort();
  await rejects(() => unpack({ image: `127.0.0.1:${port}/x/y:z`, out }), /127\.0\.0\.1:\d+: manifest .* \(after 5 attempts\)/);
  assert.not.ok(existsSync(out));

  // Corrupt the big layer where the registry keeps it: our digest check must catch it.
  const layer = built.images[0].layers[1];
  const hex = layer.digest.slice(7);
  const data = join(anonymous.storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
  const bytes = readFileSync(data);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(data, bytes);
  await rejects(() => unpack({ image: `${anonymous.host}/bench/img:v1`, out }), new RegExp(`layer 2/3 ${layer.digest}: (digest mismatch|bad zstd data)`));
  assert.not.ok(existsSync(out));
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(data, bytes);

  // A manifest changed where the registry keeps it, still valid JSON, served by tag under its old
  // Docker-Content-Digest: refused, where unpack once reported a digest the registry does not know.
  const served = readFileSync(join(anonymous.storage, "docker/registry/v2/repositories/bench/img/_manifests/tags/v1/current/link"), "utf8").trim();
  const manifestHex = served.slice(7);
  const manifestData = join(anonymous.storage, "docker/registry/v2/blobs/sha256", manifestHex.slice(0, 2), manifestHex, "data");
  const manifest = readFileSync(manifestData);
  writeFileSync(manifestData, Buffer.concat([manifest, Buffer.from("\n")]));
  try {
    await rejects(() => unpack({ image: `${anonymous.host}/bench/img:v1`, out }),
      new RegExp(`manifest .*bench/img:v1 \\(against the registry's Docker-Content-Digest\\): digest mismatch: expected ${served}, got sha256:`));
    assert.not.ok(existsSync(out));
  } finally {
    writeFileSync(manifestData, manifest);
  }
});

test("transient failures are retried: refused connections, 503s, and a download cut midway", async () => {
  for (const fault of [{ kind: "reset", count: 2 }, { kind: "unavailable", count: 2 }] as const) {
    const proxy = await startFaultyProxy(anonymous.host, fault);
    try {
      const r = await unpack({ image: `${proxy.host}/bench/img:v1`, out: freshOut() });
      assert.equal(snapshot(r.rootfs), localTree, fault.kind);
      assert.ok(proxy.connections > fault.count);
    } finally {
      await proxy.close();
    }
  }
  // Cut the first connection 1.5 MB in: inside the 3 MB layer, so the rest must come by a Range request.
  const proxy = await startFaultyProxy(anonymous.host, { kind: "cut", bytes: 1_500_000 });
  try {
    const r = await unpack({ image: `${proxy.host}/bench/img:v1`, out: freshOut() });
    assert.equal(snapshot(r.rootfs), localTree);
    assert.ok(proxy.sent.some((s) => /\r\nrange: bytes=\d+-/i.test(s)), "resumed with a Range request");
  } finally {
    await proxy.close();
  }
});

test("a host the name server does not know is said at once, not tried five times", async () => {
  // Where the name server answers (not so on a machine without one: EAI_AGAIN, which is tried again).
  const answer = await new Promise<string | undefined>((resolve) => lookup("no-such-registry.invalid", (err) => resolve(err?.code)));
  if (answer !== "ENOTFOUND") return console.log(`  (the name server here says ${answer}: not checked)`);
  const started = Date.now();
  await rejects(() => unpack({ image: "no-such-registry.invalid:5000/x/y:z", out: freshOut() }), /^no-such-registry\.invalid:5000: manifest .*: no such host \(the name server does not know it\)$/);
  assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
});

test("an error answer's body in a few words", () => {
  assert.is(describeErrorBody('{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"},{"code":"UNAUTHORIZED","message":""}]}', "application/json"),
    "DENIED: requested access to the resource is denied; UNAUTHORIZED");
  assert.is(describeErrorBody("  upstream\n  timed out ", "text/plain"), "upstream timed out");
  assert.is(describeErrorBody("x".repeat(300), "text/plain"), `${"x".repeat(200)}…`);
  assert.is(describeErrorBody("", "text/html"), "");
  assert.match(describeErrorBody("<html><body>502</body></html>", ""), /^an HTML page, not a registry's answer/);
});

/**
 * A loopback server whose answers (a 404 for registry paths, or a 401 sending
 * clients to its token realm, whose answer is 200) have bodies that go on and on:
 * `prefix`, then "x" until the client stops reading or `stopAfter` bytes were
 * sent (then it stalls, so an unbounded reader fails on a timeout, not on memory).
 */
async function startEndlessServer(options: { challenge: boolean; prefix: string; stopAfter: number }) {
  const sockets = new Set<import("node:net").Socket>();
  const stats = { sent: 0 };
  const server = createServer((req, res) => {
    const realm = `http://${req.headers.host}/token`;
    if (options.challenge && !req.url?.startsWith("/token")) {
      res.writeHead(401, { "www-authenticate": `Bearer realm="${realm}",service="endless"` }).end();
      return;
    }
    res.writeHead(req.url?.startsWith("/token") ? 200 : 404, { "content-type": "text/plain" });
    const chunk = Buffer.alloc(16 << 10, "x");
    let first = true;
    const pump = () => {
      while (stats.sent < options.stopAfter) {
        const data = first ? Buffer.concat([Buffer.from(options.prefix), chunk]) : chunk;
        first = false;
        stats.sent += data.length;
        if (!res.write(data)) return void res.once("drain", pump);
      }
    };
    pump();
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    stats,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test("an endless error answer or token answer is read only so far: 64 KiB, then named", async () => {
  const options = { timeouts: { answerMs: 2000, bodyIdleMs: 1000 }, retryDelayMs: 10, attempts: 1 };
  const stopAfter = 64 << 20;
  const notFound = await startEndlessServer({ challenge: false, prefix: "", stopAfter });
  try {
    const client = new RegistryClient(parseReference(`${notFound.host}/bench/img:v1`), options);
    await rejects(() => client.get("manifests/v1", {}, "manifest"), /^127\.0\.0\.1:\d+: manifest: HTTP 404: x{200}…$/);
    assert.ok(notFound.stats.sent < 16 << 20, `the client read ${notFound.stats.sent} bytes of the error answer`);
  } finally {
    await notFound.close();
  }
  const tokens = await startEndlessServer({ challenge: true, prefix: '{"token":"', stopAfter });
  try {
    const client = new RegistryClient(parseReference(`${tokens.host}/bench/img:v1`), options);
    await rejects(() => client.get("manifests/v1", {}, "manifest"),
      /^token service http:\/\/127\.0\.0\.1:\d+\/token: its answer is over 64 KiB, too large for a token$/);
    assert.ok(tokens.stats.sent < 16 << 20, `the client read ${tokens.stats.sent} bytes of the token answer`);
  } finally {
    await tokens.close();
  }
});

test("a registry that goes silent is tried twice, one timeout each, with a warning before the second try", async () => {
  const retries: string[] = [];
  const options = { timeouts: { answerMs: 300, bodyIdleMs: 300 }, retryDelayMs: 10, onRetry: (m: string) => retries.push(m) };
  const silent = await startFaultyProxy(anonymous.host, { kind: "silent", count: 99 });
  try {
    const started = Date.now();
    const client = new RegistryClient(parseReference(`${silent.host}/bench/img:v1`), options);
    await rejects(() => client.get("manifests/v1", {}, "manifest"), /^127\.0\.0\.1:\d+: manifest: no answer for 300 ms \(after 2 attempts\)$/);
    assert.ok(Date.now() - started < 5000, "two timeouts, not five");
    assert.is(silent.connections, 2);
    assert.equal(retries.map((m) => m.replace(/^127\.0\.0\.1:\d+/, "HOST")), ["HOST: manifest: no answer for 300 ms; trying again (attempt 2 of 2)"]);
  } finally {
    await silent.close();
  }
  // Silent once, then answering: the second try gets the manifest.
  const once = await startFaultyProxy(anonymous.host, { kind: "silent", count: 1 });
  try {
    const client = new RegistryClient(parseReference(`${once.host}/bench/img:v1`), options);
    assert.is((await client.get("manifests/v1", { Accept: "application/vnd.oci.image.manifest.v1+json" }, "manifest")).status, 200);
  } finally {
    await once.close();
  }
});

test("a download that stalls midway is resumed from where it stopped, and given up when it stalls again", async () => {
  const layer = built.images[0].layers[1]; // the 3 MB one
  const options = { timeouts: { answerMs: 2000, bodyIdleMs: 300 }, retryDelayMs: 10 };
  const download = (host: string) => new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    new RegistryClient(parseReference(`${host}/bench/img:v1`), options).blob(layer.digest, "layer")
      .on("data", (d: Buffer) => chunks.push(d)).on("end", () => resolve(Buffer.concat(chunks))).on("error", reject);
  });
  const once = await startFaultyProxy(anonymous.host, { kind: "stall", bytes: 1_000_000, count: 1 });
  try {
    const bytes = await download(once.host);
    assert.is(`sha256:${createHash("sha256").update(bytes).digest("hex")}`, layer.digest);
    assert.ok(once.sent.some((s) => /\r\nrange: bytes=\d+-/i.test(s)), "resumed with a Range request");
  } finally {
    await once.close();
  }
  const always = await startFaultyProxy(anonymous.host, { kind: "stall", bytes: 1_000_000, count: 99 });
  try {
    await rejects(() => download(always.host), /: layer: download failed: the download stalled: no data for 300 ms$/);
    assert.is(always.connections, 2);
  } finally {
    await always.close();
  }
});

test("redirects are followed, and credentials do not follow them to another origin", async () => {
  // The registry behind a faulty proxy that forwards faithfully (it records what clients send), reached as
  // localhost: another origin than the 127.0.0.1 front that redirects every request there, as registries send blobs to a CDN.
  const cdn = await startFaultyProxy(anonymous.host, { kind: "reset", count: 0 });
  const seenByFront: string[] = [];
  const front = createServer((req, res) => {
    seenByFront.push(req.headers.authorization ?? "");
    res.writeHead(307, { location: `http://localhost:${cdn.host.split(":")[1]}${req.url}` }).end();
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  try {
    const host = `127.0.0.1:${(front.address() as AddressInfo).port}`;
    const r = await unpack({ image: `${host}/bench/img:v1`, out: freshOut(), auth: { token: "sekrit" } });
    assert.equal(snapshot(r.rootfs), localTree);
    assert.ok(seenByFront.length >= 4 && seenByFront.every((a) => a === "Bearer sekrit"), "the front got the token");
    assert.ok(cdn.sent.length > 0);
    assert.not.ok(cdn.sent.some((s) => /\r\nauthorization:/i.test(s)), "the other origin did not");
  } finally {
    await new Promise((resolve) => front.close(resolve));
    await cdn.close();
  }
});

test("basic auth (htpasswd): with the right password only", async () => {
  const registry = await startRegistry({ kind: "htpasswd", user: "alice", password: "s3cret" });
  try {
    await pushWithSkopeo(layout, `${registry.host}/bench/img:v1`, { creds: "alice:s3cret" });
    const r = await unpack({ image: `${registry.host}/bench/img:v1`, out: freshOut(), auth: { username: "alice", password: "s3cret" } });
    assert.equal(snapshot(r.rootfs), localTree);
    const out = freshOut();
    await rejects(() => unpack({ image: `${registry.host}/bench/img:v1`, out }), /registry wants a username and password/);
    await rejects(() => unpack({ image: `${registry.host}/bench/img:v1`, out, auth: { username: "alice", password: "wrong" } }), /HTTP 401 \(credentials missing or refused\)/);
    assert.not.ok(existsSync(out));
  } finally {
    await registry.stop();
  }
});

test("bearer token auth: a token from the realm, scoped to the repository", async () => {
  const tokens = await startTokenService(work, "bob", "hunter2");
  const registry = await startRegistry({ kind: "token", tokens });
  try {
    await pushWithSkopeo(layout, `${registry.host}/bench/img:v1`, { creds: "bob:hunter2" });
    tokens.requests.length = 0;
    const r = await unpack({ image: `${registry.host}/bench/img:v1`, out: freshOut(), auth: { username: "bob", password: "hunter2" } });
    assert.equal(snapshot(r.rootfs), localTree);
    assert.equal(tokens.requests.map((q) => q.user), ["bob"], "one token served the whole pull");
    assert.match(tokens.requests[0].scope, /^repository:bench\/img:pull/);
    const out = freshOut();
    await rejects(() => unpack({ image: `${registry.host}/bench/img:v1`, out, auth: { username: "bob", password: "nope" } }), /token service .*: HTTP 401 \(credentials refused\)/);
    await rejects(() => unpack({ image: `${registry.host}/bench/img:v1`, out, auth: { token: "not-a-jwt" } }), /HTTP 401/);
    assert.not.ok(existsSync(out));
  } finally {
    await registry.stop();
    await tokens.close();
  }
});

test("nothing is left in the work directory but what the tests made", () => {
  const names = readdirSync(work).filter((n) => !/^(layout|local|multi|out-\d+|token\.(key|crt))$/.test(n));
  assert.equal(names, []);
});

test.run();
