import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultAuthFiles, registryCredentials } from "../../../lib/oci/auth-file.js";

const work = mkdtempSync(join(tmpdir(), "auth-file-test-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

const b64 = (text: string) => Buffer.from(text).toString("base64");
let files = 0;
function authFile(doc: unknown): string {
  const path = join(work, `auth-${++files}.json`);
  writeFileSync(path, typeof doc === "string" ? doc : JSON.stringify(doc));
  return path;
}

test("the files looked at, in skopeo's and podman's order", () => {
  assert.equal(defaultAuthFiles({ REGISTRY_AUTH_FILE: "/a.json", XDG_RUNTIME_DIR: "/run/user/1", HOME: "/home/u" }), ["/a.json"]);
  assert.equal(defaultAuthFiles({ XDG_RUNTIME_DIR: "/run/user/1", HOME: "/home/u" }), ["/run/user/1/containers/auth.json", "/home/u/.docker/config.json"]);
  assert.equal(defaultAuthFiles({ DOCKER_CONFIG: "/etc/docker-cfg", HOME: "/home/u" }), ["/etc/docker-cfg/config.json"]);
});

test("an entry's auth (base64 of user:password, the password may hold colons) or its username and password", () => {
  const file = authFile({ auths: { "reg.example:5000": { auth: b64("alice:pa:ss") }, "other.example": { username: "bob", password: "pw" } } });
  assert.equal(registryCredentials("reg.example:5000", "team/app", file), { credentials: { username: "alice", password: "pa:ss" } });
  assert.equal(registryCredentials("other.example", "x", file), { credentials: { username: "bob", password: "pw" } });
  assert.equal(registryCredentials("reg.example", "team/app", file), {}, "another port is another registry");
  assert.equal(registryCredentials("third.example", "x", file), {});
});

test("keys: old Docker's https://host/v1/, host names case-blind, and a repository path that wins under it", () => {
  const file = authFile({ auths: {
    "https://Reg.Example/v1/": { auth: b64("legacy:1") },
    "reg.example/team": { auth: b64("team:2") },
    "reg.example/team/app": { auth: b64("app:3") },
  } });
  const user = (lookup: { credentials?: { username: string } }) => lookup.credentials?.username;
  assert.is(user(registryCredentials("reg.example", "solo", file)), "legacy");
  assert.is(user(registryCredentials("reg.example", "team/other", file)), "team");
  assert.is(user(registryCredentials("reg.example", "team/app", file)), "app");
  assert.is(user(registryCredentials("reg.example", "teamwork", file)), "legacy", "a path matches whole components");
});

test("the default search: the first file that exists is read; none is no credentials", () => {
  const home = join(work, "home");
  mkdirSync(join(home, ".docker"), { recursive: true });
  writeFileSync(join(home, ".docker", "config.json"), JSON.stringify({ auths: { "r.example": { auth: b64("u:p") } } }));
  assert.equal(registryCredentials("r.example", "x", undefined, { HOME: home, XDG_RUNTIME_DIR: join(work, "no-runtime-dir") }), { credentials: { username: "u", password: "p" } });
  assert.equal(registryCredentials("r.example", "x", undefined, { HOME: join(work, "nobody") }), {});
});

test("files that cannot be read as auth files are named, with what is wrong", () => {
  const cases: [unknown, RegExp][] = [
    ["{ not json", /: not JSON \(/],
    [[1], /: expected a JSON object$/],
    [{ auths: [] }, /: "auths" must be an object$/],
    [{ auths: { "r.example": { auth: b64("no-colon") } } }, /: auths\["r\.example"\]\.auth: expected the base64 of user:password$/],
    [{ auths: { "r.example": {} } }, /: auths\["r\.example"\]: has no "auth" .*, nor "username" and "password"$/],
  ];
  for (const [doc, pattern] of cases) {
    const file = authFile(doc);
    assert.throws(() => registryCredentials("r.example", "x", file), (e: Error) => e.message.startsWith(`auth file ${file}: `) && pattern.test(e.message), JSON.stringify(doc));
  }
  assert.throws(() => registryCredentials("r.example", "x", join(work, "missing.json")), /auth file .*missing\.json: no such file$/);
});

test("credentials kept where bencher-run cannot use them (a helper, an identity token) are no credentials, with a note saying where they are", () => {
  // Docker Desktop's config has a credsStore: an image that needs no password must still be pulled.
  const desktop = authFile({ auths: {}, credsStore: "desktop" });
  const lookup = registryCredentials("r.example", "x", desktop);
  assert.is(lookup.credentials, undefined);
  assert.match(lookup.unusable!, new RegExp(`^auth file ${desktop} keeps r\\.example's credentials with the credential helper docker-credential-desktop, which bencher-run does not run: give them in an auth file of their own \\(--authfile FILE`));
  assert.match(registryCredentials("r.example", "x", authFile({ credHelpers: { "r.example": "ecr-login" } })).unusable!, /docker-credential-ecr-login/);
  assert.match(registryCredentials("r.example", "x", authFile({ auths: { "r.example": { identitytoken: "tok" } } })).unusable!, /auths\["r\.example"\] holds an identity token .*: give a username and password$/);
  // A helper for another registry says nothing about this one.
  assert.equal(registryCredentials("r.example", "x", authFile({ credHelpers: { "other.example": "x" } })), {});
});

test.run();
