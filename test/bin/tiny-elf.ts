// The smallest "kernels" our VMM boots: an ELF64 with one segment at 16 MiB
// whose code resets the machine through the i8042 (mov al,0xfe; out 0x64,al;
// hlt), or spins for good (jmp $).
const LOAD = 0x1000000n;

export function resettingElf(): Buffer {
  return tinyElf(Buffer.from([0xb0, 0xfe, 0xe6, 0x64, 0xf4]));
}

export function spinningElf(): Buffer {
  return tinyElf(Buffer.from([0xeb, 0xfe]));
}

function tinyElf(CODE: Buffer): Buffer {
  const header = Buffer.alloc(64 + 56);
  header.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELF, 64-bit, little endian, version 1
  header.writeUInt16LE(2, 16); // ET_EXEC
  header.writeUInt16LE(0x3e, 18); // x86-64
  header.writeUInt32LE(1, 20);
  header.writeBigUInt64LE(LOAD, 24); // entry
  header.writeBigUInt64LE(64n, 32); // program headers right after this header
  header.writeUInt16LE(64, 52);
  header.writeUInt16LE(56, 54);
  header.writeUInt16LE(1, 56);
  header.writeUInt16LE(64, 58);
  const ph = 64;
  header.writeUInt32LE(1, ph); // PT_LOAD
  header.writeUInt32LE(5, ph + 4); // R+X
  header.writeBigUInt64LE(120n, ph + 8); // file offset of the code
  header.writeBigUInt64LE(LOAD, ph + 16);
  header.writeBigUInt64LE(LOAD, ph + 24);
  header.writeBigUInt64LE(BigInt(CODE.length), ph + 32);
  header.writeBigUInt64LE(BigInt(CODE.length), ph + 40);
  header.writeBigUInt64LE(1n, ph + 48);
  return Buffer.concat([header, CODE]);
}
