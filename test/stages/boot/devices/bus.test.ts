// The buses: which device answers an address, and where devices publish the
// registers the vCPU threads may read themselves.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MmioBus, PioBus } from "../../../../stages/boot/devices/bus.js";
import type { MmioDevice, PioDevice } from "../../../../stages/boot/devices/device.js";
import { MIRROR_MMIO, MIRROR_PIO, ReadMirrors } from "../../../../stages/boot/read-mirror.js";

const pioDevice = (publish: number[]): PioDevice => ({
  name: "ports",
  pioRead: (_port, data) => data.fill(7),
  pioWrite: () => {},
  publishReads: (p) => publish.forEach((port) => p(port, 1)),
});
const mmioDevice = (publish: number[]): MmioDevice => ({
  name: "window",
  mmioRead: (_offset, data) => data.fill(9),
  mmioWrite: () => {},
  publishReads: (p) => publish.forEach((offset) => p(offset, 4)),
});

test("a port device publishes ports, an MMIO device offsets inside its window", () => {
  const mirrors = new ReadMirrors();
  new PioBus(mirrors).add(0x3f8, 8, pioDevice([0x3fd]));
  new MmioBus(mirrors).add(0xd0000000, 0x200, mmioDevice([0x60]));
  assert.equal(
    mirrors.table().entries.map(({ kind, addr }) => [kind, addr]),
    [[MIRROR_PIO, 0x3fd], [MIRROR_MMIO, 0xd0000060]],
  );
});

test("a device cannot publish a register outside the range it was placed at", () => {
  const mirrors = new ReadMirrors();
  assert.throws(() => new PioBus(mirrors).add(0x3f8, 8, pioDevice([0x400])), /ports publishes 0x400, outside its range/);
  assert.throws(() => new MmioBus(mirrors).add(0xd0000000, 0x200, mmioDevice([0x1fe])), /window publishes 0xd00001fe, outside its range/);
});

test("without mirrors, devices are placed as before and answer every access", () => {
  const pio = new PioBus();
  pio.add(0x3f8, 8, pioDevice([0x3fd]));
  const d = new Uint8Array(1);
  pio.read(0x3fd, d);
  assert.is(d[0], 7);
  pio.read(0x500, d);
  assert.is(d[0], 0xff, "an unclaimed port reads as all ones");
  const mmio = new MmioBus();
  mmio.add(0xd0000000, 0x200, mmioDevice([0x60]));
  assert.throws(() => mmio.add(0xd0000100, 0x200, mmioDevice([])), /overlaps window/);
});

test.run();
