// Pulling over HTTPS from a real registry on loopback, its certificate signed
// by a throwaway CA: trusted only when that CA is given (registryCa), refused
// for another host or another CA, with one-line errors and nothing left.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../../lib/oci/build-image.js";
import { unpack } from "../../../stages/unpack/unpack.js";
import { registryScheme } from "../../../stages/unpack/registry-client.js";
import { parseUnpackRequest } from "../../../stages/unpack/request.js";
import { rejects, snapshot } from "./helpers.js";
import { pushWithSkopeo, startRegistry, type Registry } from "../../../lib/reference/registry-server.js";
import { issueServerCert, makeTestCa, type TestCa } from "./test-certs.js";

const work = mkdtempSync(join(tmpdir(), "unpack-registry-tls-"));
const layout = join(work, "layout");
let ca: TestCa;
let otherCa: TestCa;
let localTree: Record<string, string>;
/** HTTPS, certificate for 127.0.0.1 and localhost, signed by `ca`. */
let secure: Registry;
/** HTTPS, certificate for wrong.example only, signed by `ca`. */
let wrongHost: Registry;
/** Plain HTTP. */
let plain: Registry;

test.before(async () => {
  await buildImage({ base: "scratch", layers: [{ entries: [{ type: "file", path: "/hello", content: "over TLS" }, { type: "file", path: "/owned", content: "x", uid: 7 }] }] }, { format: "oci-dir", out: layout });
  localTree = snapshot((await unpack({ image: layout, out: join(work, "local") })).rootfs);
  ca = await makeTestCa(work);
  otherCa = await makeTestCa(work, "other-ca");
  secure = await startRegistry(undefined, { tls: await issueServerCert(ca, join(work, "server"), ["IP:127.0.0.1", "DNS:localhost"]) });
  wrongHost = await startRegistry(undefined, { tls: await issueServerCert(ca, join(work, "wrong-host"), ["DNS:wrong.example"]) });
  plain = await startRegistry();
  await pushWithSkopeo(layout, `${secure.host}/bench/img:v1`); // skopeo without TLS verification
});

test.after(async () => {
  for (const registry of [secure, wrongHost, plain]) await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

let outs = 0;
const freshOut = () => join(work, `out-${++outs}`);
const oneLine = (err: Error) => assert.not.match(err.message, /\n/);

test("HTTPS unless plain HTTP is asked for, or the registry is on loopback and nothing asks for TLS", () => {
  assert.is(registryScheme("reg.example", {}), "https");
  assert.is(registryScheme("reg.example", { plainHttp: true }), "http");
  assert.is(registryScheme("127.0.0.1:5000", {}), "http");
  assert.is(registryScheme("LocalHost:5000", {}), "http", "host names are case-blind");
  assert.is(registryScheme("localhost:5000", { plainHttp: false }), "https");
  assert.is(registryScheme("[::1]:5000", { ca: ["PEM"] }), "https");
  assert.throws(() => registryScheme("127.0.0.1:5000", { plainHttp: true, ca: ["PEM"] }), /a registry CA is for HTTPS, but plain HTTP was asked for/);
});

test("with the CA given, the image is pulled over HTTPS", async () => {
  const r = await unpack({ image: `${secure.host}/bench/img:v1`, out: freshOut(), registryCa: ca.cert });
  assert.equal(snapshot(r.rootfs), localTree);
  // By DNS name too (the certificate names localhost), asking for HTTPS without a CA file is not enough:
  const port = secure.host.split(":")[1];
  const byName = await unpack({ image: `localhost:${port}/bench/img:v1`, out: freshOut(), registryCa: ca.cert, plainHttp: false });
  assert.equal(snapshot(byName.rootfs), localTree);
});

test("without the CA: one line naming the registry and the untrusted certificate, at once, nothing left", async () => {
  const out = freshOut();
  const started = Date.now();
  const err = await rejects(
    () => unpack({ image: `${secure.host}/bench/img:v1`, out, plainHttp: false }),
    new RegExp(`^registry ${secure.host}: its TLS certificate is not trusted \\(.+\\); give the CA certificate that signed it with --registry-ca FILE$`),
  );
  oneLine(err);
  assert.ok(Date.now() - started < 1000, "a certificate problem is not retried");
  assert.not.ok(existsSync(out));
  // Left to the default, a loopback registry is spoken to in plain HTTP, which this one refuses.
  await rejects(() => unpack({ image: `${secure.host}/bench/img:v1`, out }), /HTTP 400 \(it speaks HTTPS: ask for it with --no-plain-http or --registry-ca FILE\): Client sent an HTTP request to an HTTPS server/);
  assert.not.ok(existsSync(out));
});

test("another CA does not make the certificate trusted", async () => {
  const out = freshOut();
  await rejects(() => unpack({ image: `${secure.host}/bench/img:v1`, out, registryCa: otherCa.cert }), /^registry 127\.0\.0\.1:\d+: its TLS certificate is not trusted/);
  assert.not.ok(existsSync(out));
});

test("a certificate for another host is refused, even signed by the trusted CA", async () => {
  const out = freshOut();
  const err = await rejects(
    () => unpack({ image: `${wrongHost.host}/bench/img:v1`, out, registryCa: ca.cert }),
    new RegExp(`^registry ${wrongHost.host}: its TLS certificate is not valid for this host \\(.*127\\.0\\.0\\.1.*; it is for DNS:wrong\\.example\\)$`),
  );
  oneLine(err);
  assert.not.ok(existsSync(out));
});

test("HTTPS to a plain HTTP registry says so", async () => {
  const out = freshOut();
  await rejects(() => unpack({ image: `${plain.host}/bench/img:v1`, out, plainHttp: false }), new RegExp(`^registry ${plain.host}: TLS handshake failed \\(wrong version number\\): does it speak plain HTTP\\? \\(--plain-http\\)$`));
  assert.not.ok(existsSync(out));
});

test("a bad CA file or a contradictory request is named", async () => {
  const image = `${secure.host}/bench/img:v1`;
  const out = freshOut();
  await rejects(() => unpack({ image, out, registryCa: join(work, "nope.crt") }), /^registry CA file .*nope\.crt: no such file$/);
  const notPem = join(work, "not-pem.crt");
  writeFileSync(notPem, "hello\n");
  await rejects(() => unpack({ image, out, registryCa: notPem }), /^registry CA file .*not-pem\.crt: holds no PEM certificate/);
  const broken = join(work, "broken.crt");
  writeFileSync(broken, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  await rejects(() => unpack({ image, out, registryCa: broken }), /^registry CA file .*broken\.crt: certificate 1 does not parse/);
  await rejects(() => unpack({ image, out, registryCa: work }), /not a regular file/);
  await rejects(() => unpack({ image, out, registryCa: ca.cert, plainHttp: true }), /a registry CA is for HTTPS, but plain HTTP was asked for/);
  assert.not.ok(existsSync(out));
  assert.equal(parseUnpackRequest({ image, out, registryCa: "/ca.pem", plainHttp: false }), { image, out, registryCa: "/ca.pem", plainHttp: false });
  assert.throws(() => parseUnpackRequest({ image, out, registryCa: 1 }), /"registryCa" must be a non-empty string/);
});

test("the registries stop and leave nothing: no process, no directory", async () => {
  for (const registry of [secure, wrongHost, plain]) {
    await registry.stop();
    assert.not.ok(existsSync(registry.dir), registry.dir);
    assert.throws(() => process.kill(registry.pid, 0), /ESRCH/, `docker-registry ${registry.pid} still runs`);
  }
  secure = wrongHost = plain = undefined as unknown as Registry;
  const names = readdirSync(work).filter((n) => !/^(layout|local|out-\d+|(bencher-test-ca|other-ca)\.(crt|key|srl)|(server|wrong-host)\.(crt|key|csr|ext)|not-pem\.crt|broken\.crt)$/.test(n));
  assert.equal(names, []);
});

test.run();
