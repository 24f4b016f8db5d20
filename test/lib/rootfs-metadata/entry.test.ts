// checkEntry: the one check of a metadata.jsonl record, which unpack applies
// as it writes records and mkrootfs as it reads them.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkEntry, MAX_MTIME } from "../../../lib/rootfs-metadata/entry.js";

const refused = (raw: unknown): string => {
  try {
    checkEntry(raw);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`accepted: ${JSON.stringify(raw)}`);
};

test("a full record comes back as an entry: permission bits only, xattr values decoded", () => {
  const entry = checkEntry({ path: "/dev/null", uid: 0, gid: 5, mode: 0o20666, kind: "chardev", rdev: [1, 3], mtime: MAX_MTIME, xattrs: { "user.a": "aGk=" } });
  assert.equal(entry, { path: "/dev/null", uid: 0, gid: 5, mode: 0o666, kind: "chardev", rdev: [1, 3], mtime: MAX_MTIME, xattrs: [["user.a", Buffer.from("hi")]] });
});

test("what mkrootfs could not build is refused, naming the field", () => {
  assert.is(refused({ path: "/a", owner: 1 }), 'unknown field "owner"');
  assert.is(refused({ path: "a" }), 'path "a" is not absolute');
  assert.is(refused({ path: "/a\nb" }), 'path "/a\\nb" contains a control character');
  assert.is(refused({ path: "/a", uid: 2 ** 32 - 1 }), "uid must be an integer from 0 to 4294967294, not 4294967295");
  assert.is(refused({ path: "/a", rdev: [4096, 0] }), "rdev must be [major 0..4095, minor 0..1048575], not [4096,0]");
  assert.is(refused({ path: "/a", mtime: MAX_MTIME + 1 }), `mtime must be seconds from 0 to ${MAX_MTIME}, not ${MAX_MTIME + 1}`);
  assert.is(refused({ path: "/a", xattrs: { "user.a": "!" } }), 'xattr "user.a" is not base64');
  assert.is(refused({ path: "/a", xattrs: { "os2.a": "" } }), 'xattr "os2.a" must start with user., trusted., security. or system.');
  assert.is(refused([]), "expected a JSON object");
});

test.run();
