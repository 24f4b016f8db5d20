// `bencher-run pipeline` on an image in a registry that speaks HTTPS with a
// certificate from a private CA: the run works with --registry-ca (the file
// reaches the sandboxed unpack stage) and is refused in one line without it;
// and on one that wants a password, given in an auth file with --authfile.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { runCli } from "./helpers.js";
import { pushWithSkopeo, startRegistry, type Registry } from "../../lib/reference/registry-server.js";
import { issueServerCert, makeTestCa, type TestCa } from "../stages/unpack/test-certs.js";

const work = mkdtempSync(join(tmpdir(), "pipeline-registry-test-"));
const runs = join(work, "runs");
let ca: TestCa;
let registry: Registry;
let ref: string;

test.before(async () => {
  const layout = join(work, "layout");
  await buildImage(
    { base: "busybox", layers: [{ entries: [{ type: "file", path: "/which", content: "pulled over TLS\n" }] }], config: { cmd: ["/bin/cat", "/which"] } },
    { format: "oci-dir", out: layout },
  );
  ca = await makeTestCa(work);
  registry = await startRegistry(undefined, { tls: await issueServerCert(ca, join(work, "server"), ["IP:127.0.0.1"]) });
  ref = `${registry.host}/bench/tls:v1`;
  await pushWithSkopeo(layout, ref);
});

test.after(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("without the CA: status 125 and one line saying what to give, before any VM", async () => {
  // HTTPS asked for: the certificate is not trusted.
  const untrusted = await runCli(["pipeline", "--image", ref, "--no-plain-http", "--work-root", runs]);
  assert.is(untrusted.exitCode, 125, untrusted.stderr);
  assert.match(untrusted.stderr, /TLS certificate is not trusted.*--registry-ca FILE/);
  assert.is(untrusted.stderr.trim().split("\n").length, 1, untrusted.stderr);
  // Nothing asked for: a loopback registry gets plain HTTP, which this one refuses.
  const plain = await runCli(["pipeline", "--image", ref, "--work-root", runs]);
  assert.is(plain.exitCode, 125, plain.stderr);
  assert.match(plain.stderr, /--registry-ca FILE/);
  assert.is(plain.stderr.trim().split("\n").length, 1, plain.stderr);
  assert.equal(readdirSync(runs), [], "no run directory left");
});

test("with --registry-ca the image is pulled over HTTPS and runs", async () => {
  const r = await runCli(["pipeline", "--image", ref, "--registry-ca", ca.cert, "--work-root", runs]);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(r.stdout, "pulled over TLS"); // execa drops the last newline
  assert.equal(readdirSync(runs), []);
});

test("a registry that wants a password: --authfile gives it (the file docker login writes); without, one line before any VM", async () => {
  const guarded = await startRegistry({ kind: "htpasswd", user: "alice", password: "s3cret" });
  try {
    const guardedRef = `${guarded.host}/bench/private:v1`;
    await pushWithSkopeo(join(work, "layout"), guardedRef, { creds: "alice:s3cret" });
    // No auth file anywhere the command looks (the default search is lib/oci/auth-file.ts's, tested there).
    const nowhere = { XDG_RUNTIME_DIR: "", REGISTRY_AUTH_FILE: "", DOCKER_CONFIG: join(work, "no-docker-config") };
    const noCreds = await runCli(["pipeline", "--image", guardedRef, "--work-root", runs], nowhere);
    assert.is(noCreds.exitCode, 125, noCreds.stderr);
    assert.match(noCreds.stderr, /registry wants a username and password, and none were found/);
    assert.is(noCreds.stderr.trim().split("\n").length, 1, noCreds.stderr);
    const authFile = join(work, "auth.json");
    writeFileSync(authFile, JSON.stringify({ auths: { [guarded.host]: { auth: Buffer.from("alice:s3cret").toString("base64") } } }), { mode: 0o600 });
    const r = await runCli(["pipeline", "--image", guardedRef, "--authfile", authFile, "--work-root", runs], nowhere);
    assert.is(r.exitCode, 0, r.stderr);
    assert.is(r.stdout, "pulled over TLS", "the same image, here from a plain-HTTP registry with a password");
    assert.equal(readdirSync(runs), []);
  } finally {
    await guarded.stop();
  }
});

test("a CA file that is not there, or with --plain-http, is a usage error", async () => {
  const missing = await runCli(["pipeline", "--image", ref, "--registry-ca", join(work, "nope.pem")]);
  assert.is(missing.exitCode, 125);
  assert.match(missing.stderr, /registry-ca .*nope\.pem: no such file/);
  const both = await runCli(["pipeline", "--image", ref, "--registry-ca", ca.cert, "--plain-http"]);
  assert.is(both.exitCode, 125);
  assert.match(both.stderr, /a CA is for HTTPS, but plain HTTP was asked for/);
});

test.run();
