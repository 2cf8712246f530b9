// buffer-crc32's `unsigned` contract (unsigned result, a previous CRC to continue from, as a number
// or as the 4-byte big-endian buffer buffer-crc32 returns) over zlib's native crc32, which Node
// >= 20.15, Bun and Deno have; undefined where the runtime has none.
import { Buffer } from 'node:buffer';
import zlib from 'node:zlib';

type UnsignedCrc32 = (data: Uint8Array | string, previous?: number | Uint8Array) => number;

const native = (zlib as { crc32?: (data: Uint8Array | string, value?: number) => number }).crc32;

export const nativeUnsignedCrc32: UnsignedCrc32 | undefined = typeof native !== 'function' ? undefined : (data, previous) => {
  const start = previous === undefined ? 0 : typeof previous === 'number' ? previous >>> 0 : Buffer.from(previous).readUInt32BE(0);
  return native(typeof data === 'string' ? Buffer.from(data) : data, start);
};
