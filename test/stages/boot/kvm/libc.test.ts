// The VMM's libc wrappers that need no KVM: random bytes for the guest's RNG seed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "../../../../stages/boot/kvm/libc.js";

test("randomBytes gives as many bytes as asked, different each time", () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  assert.is(a.length, 32);
  assert.not.equal(a, b);
  assert.ok(a.some((byte) => byte !== 0));
  assert.is(randomBytes(0).length, 0);
  assert.is(randomBytes(256).length, 256);
});

test("randomBytes refuses more than one getrandom call gives whole", () => {
  assert.throws(() => randomBytes(257), /^randomBytes: 257 is not a whole number from 0 to 256$/);
  assert.throws(() => randomBytes(1.5), /^randomBytes: 1.5 is not/);
});

test.run();
