// guest-init's own SHA-256/HMAC against the host's frame MAC (Node's crypto),
// at the lengths where padding and block boundaries go wrong.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { locateGuestInit } from "../../guest-init/locate.js";
import { guestFrameMac } from "../../lib/guest-protocol/frame-mac.js";

function guestHmac(key: Buffer, data: Buffer): string {
  const r = spawnSync(locateGuestInit(), ["--hmac-test", key.toString("hex")], { input: data, encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test("matches the host for message lengths around the 64-byte block and padding edges", () => {
  const key = randomBytes(32);
  for (const length of [0, 1, 3, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65536 + 9 + 4 + 7]) {
    const data = randomBytes(length);
    assert.is(guestHmac(key, data), guestFrameMac(key, data).toString("hex"), `length ${length}`);
  }
});

test("matches the host for short, block-sized and long (hashed) keys", () => {
  const data = randomBytes(300);
  for (const keyLength of [1, 20, 64, 65, 100]) {
    const key = randomBytes(keyLength);
    assert.is(guestHmac(key, data), guestFrameMac(key, data).toString("hex"), `key length ${keyLength}`);
  }
});

test("matches the host on several megabytes fed in pieces", () => {
  const key = randomBytes(32);
  const data = randomBytes(5_000_003);
  assert.is(guestHmac(key, data), guestFrameMac(key, data).toString("hex"));
});

test.run();
