// `bencher-run unpack` as a user runs it, the stage in its sandbox: HTTPS
// from a registry whose CA is given with --registry-ca (the file is bound into
// the sandbox), and one image of a multi-image docker-save archive.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { buildImage } from "../../../lib/oci/build-image.js";
import { tarDirectory } from "../../../lib/oci/tar-directory.js";
import { classifyImage } from "../../../bin/commands/unpack.js";
import { runCli } from "../helpers.js";
import { mergeDockerSaves } from "../../stages/unpack/helpers.js";
import { pushWithSkopeo, startRegistry, type Registry } from "../../../lib/reference/registry-server.js";
import { issueServerCert, makeTestCa, type TestCa } from "../../stages/unpack/test-certs.js";

const work = mkdtempSync(join(tmpdir(), "cli-unpack-test-"));
const env = { BENCHER_RUN_CACHE: join(work, "cache") };
let ca: TestCa;
let registry: Registry;

const image = (which: string) => ({ base: "scratch" as const, layers: [{ entries: [{ type: "file" as const, path: "/which", content: which }] }] });

test.before(async () => {
  const layout = join(work, "layout");
  await buildImage(image("from the registry"), { format: "oci-dir", out: layout });
  ca = await makeTestCa(work);
  registry = await startRegistry(undefined, { tls: await issueServerCert(ca, join(work, "server"), ["IP:127.0.0.1"]) });
  await pushWithSkopeo(layout, `${registry.host}/bench/img:v1`);
});

test.after(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("--registry-ca: the sandboxed stage pulls over HTTPS", async () => {
  const out = join(work, "https-out");
  const r = await runCli(["unpack", "--image", `${registry.host}/bench/img:v1`, "--out", out, "--registry-ca", ca.cert], env);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(readFileSync(join(out, "rootfs", "which"), "utf8"), "from the registry");
});

test("without it, or with a missing file, one line and nothing left", async () => {
  const out = join(work, "untrusted-out");
  const untrusted = await runCli(["unpack", "--image", `${registry.host}/bench/img:v1`, "--out", out, "--no-plain-http"], env);
  assert.is(untrusted.exitCode, 1);
  assert.match(untrusted.stderr, new RegExp(`^bencher-run: unpack: registry ${registry.host}: its TLS certificate is not trusted .*--registry-ca FILE$`));
  assert.not.ok(existsSync(out));
  const missing = await runCli(["unpack", "--image", `${registry.host}/bench/img:v1`, "--out", out, "--registry-ca", join(work, "nope.pem")], env);
  assert.is(missing.stderr, `bencher-run: --registry-ca ${join(work, "nope.pem")}: no such file or directory`);
  assert.not.ok(existsSync(out));
});

test("a --platform that is no platform, or --plain-http with --registry-ca, is the command line's error: exit 2, nothing made", async () => {
  const out = join(work, "usage-out");
  for (const platform of ["amd64", "linux/amd64/", ""]) {
    const r = await runCli(["unpack", "--image", `${registry.host}/bench/img:v1`, "--out", out, "--platform", platform], env);
    assert.is(r.stderr, `bencher-run: --platform ${JSON.stringify(platform)}: expected os/architecture[/variant], such as linux/amd64 or linux/arm64/v8`);
    assert.is(r.exitCode, 2);
  }
  const both = await runCli(["unpack", "--image", `${registry.host}/bench/img:v1`, "--out", out, "--plain-http", "--registry-ca", ca.cert], env);
  assert.is(both.stderr, "bencher-run: --plain-http and --registry-ca: a CA is for HTTPS; give one of them");
  assert.is(both.exitCode, 2);
  assert.not.ok(existsSync(out));
});

test("credentials come from the user's auth file (--authfile, $REGISTRY_AUTH_FILE, ~/.docker/config.json), read by the command, not the stage", async () => {
  const guarded = await startRegistry({ kind: "htpasswd", user: "alice", password: "s3cret" });
  try {
    const layout = join(work, "layout");
    await pushWithSkopeo(layout, `${guarded.host}/bench/img:v1`, { creds: "alice:s3cret" });
    const home = join(work, "home");
    mkdirSync(join(home, ".docker"), { recursive: true });
    const entry = (password: string) => JSON.stringify({ auths: { [guarded.host]: { auth: Buffer.from(`alice:${password}`).toString("base64") } } });
    const userEnv = { ...env, HOME: home, XDG_RUNTIME_DIR: "", REGISTRY_AUTH_FILE: "", DOCKER_CONFIG: "" };
    const pull = (out: string, extra: string[] = [], moreEnv: Record<string, string> = {}) =>
      runCli(["unpack", "--image", `${guarded.host}/bench/img:v1`, "--out", join(work, out), ...extra], { ...userEnv, ...moreEnv });

    const none = await pull("auth-none");
    assert.is(none.exitCode, 1);
    assert.match(none.stderr, /registry wants a username and password, and none were found \(docker login or podman login writes them to an auth file; bencher-run reads it, or the one --authfile names\)$/);
    assert.not.ok(existsSync(join(work, "auth-none")));

    writeFileSync(join(home, ".docker", "config.json"), entry("s3cret"), { mode: 0o600 });
    const fromHome = await pull("auth-home");
    assert.is(fromHome.exitCode, 0, fromHome.stderr);
    assert.is(readFileSync(join(work, "auth-home", "rootfs", "which"), "utf8"), "from the registry");

    const wrongFile = join(work, "wrong-auth.json");
    writeFileSync(wrongFile, entry("wrong"), { mode: 0o600 });
    const viaEnv = await pull("auth-env", [], { REGISTRY_AUTH_FILE: wrongFile });
    assert.is(viaEnv.exitCode, 1, "$REGISTRY_AUTH_FILE is read instead of ~/.docker/config.json");
    assert.match(viaEnv.stderr, /HTTP 401 \(credentials missing or refused\)/);
    const viaFlag = await pull("auth-flag", ["--authfile", join(home, ".docker", "config.json")], { REGISTRY_AUTH_FILE: wrongFile });
    assert.is(viaFlag.exitCode, 0, `--authfile wins: ${viaFlag.stderr}`);

    const missing = await pull("auth-missing", ["--authfile", join(work, "no-such-auth.json")]);
    assert.is(missing.stderr, `bencher-run: --authfile ${join(work, "no-such-auth.json")}: no such file or directory`);
    writeFileSync(wrongFile, "{ not json");
    const broken = await pull("auth-broken", ["--authfile", wrongFile]);
    assert.match(broken.stderr, new RegExp(`^bencher-run: auth file ${wrongFile}: not JSON \\(`));
    assert.is(broken.exitCode, 1);
    for (const out of ["auth-env", "auth-missing", "auth-broken"]) assert.not.ok(existsSync(join(work, out)), out);
  } finally {
    await guarded.stop();
  }
});

test("under root, an image or CA file only root may read (umask 077) is named before the stage, which runs as another uid, starts", async () => {
  if (process.getuid?.() !== 0) return; // the stages are the caller then, and read what they can
  const privateLayout = join(work, "private.oci");
  const old = process.umask(0o077);
  try {
    await buildImage(image("private"), { format: "oci-dir", out: privateLayout });
  } finally {
    process.umask(old);
  }
  const out = join(work, "private-out");
  const r = await runCli(["unpack", "--image", privateLayout, "--out", out], env);
  assert.is(r.exitCode, 1);
  assert.is(r.stderr, `bencher-run: --image ${privateLayout}: it cannot be read by uid 65534, which the stages run as under root (make it readable to others: chmod -R o+rX ${privateLayout})`);
  assert.not.ok(existsSync(out));
  const privateCa = join(work, "private-ca.pem");
  writeFileSync(privateCa, readFileSync(ca.cert), { mode: 0o600 });
  const caRun = await runCli(["unpack", "--image", `${registry.host}/bench/img:v1`, "--out", out, "--registry-ca", privateCa], env);
  assert.match(caRun.stderr, /^bencher-run: --registry-ca .*private-ca\.pem: it cannot be read by uid 65534/);
  // As the hint says: then it unpacks.
  execFileSync("chmod", ["-R", "o+rX", privateLayout]);
  const fixed = await runCli(["unpack", "--image", privateLayout, "--out", out], env);
  assert.is(fixed.exitCode, 0, fixed.stderr);
});

test("docker-archive:FILE:REPO:TAG: the archive is bound, the tag picks the image", async () => {
  const parts = join(work, "parts");
  mkdirSync(parts);
  for (const tag of ["one:v1", "two:v1"]) await buildImage(image(tag), { format: "docker-dir", out: join(parts, tag), tag });
  mergeDockerSaves([join(parts, "one:v1"), join(parts, "two:v1")], join(work, "both"));
  const tar = join(work, "both.tar");
  await tarDirectory(join(work, "both"), tar);
  assert.equal(classifyImage(`docker-archive:${tar}:two:v1`), { request: `docker-archive:${tar}:two:v1`, bind: tar, network: false });

  const out = join(work, "two-out");
  const r = await runCli(["unpack", "--image", `docker-archive:${tar}:two:v1`, "--out", out], env);
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(readFileSync(join(out, "rootfs", "which"), "utf8"), "two:v1");
  const none = await runCli(["unpack", "--image", tar, "--out", join(work, "none-out")], env);
  assert.match(none.stderr, /^bencher-run: unpack: .*both\.tar: manifest\.json holds 2 images \(one:v1; two:v1\); name one as docker-archive:.*both\.tar:REPO:TAG$/);
});

test.run();
