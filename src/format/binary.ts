// Helpers shared by the binary objects (vector shards, doc blocks): magic, version, alignment, bounds.
import { crc32 } from "./checksum.ts";
import { FormatError } from "./errors.ts";

/** Major version the binary readers of this build understand; a higher minor of it still reads. */
export const BINARY_MAJOR = 1;
/** Minor version the writers of this build produce. */
export const BINARY_MINOR = 0;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Typed-array views over the file bytes assume a little-endian host (every Node and workerd target is).
  throw new Error("i3-edge index format: big-endian hosts are not supported");
}

/** Rounds `n` up to a multiple of `a` (a power of two). */
export function alignUp(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1);
}

/** A little-endian DataView over exactly `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws `truncated` unless `bytes` holds at least `need` bytes. */
export function needBytes(what: string, bytes: Uint8Array, need: number): void {
  if (bytes.byteLength < need) {
    throw new FormatError("truncated", `${what}: expected at least ${need} bytes, got ${bytes.byteLength}`);
  }
}

/** Bits set in a 32-bit word. */
export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/**
 * Writes an object's preamble: the 4-character ASCII magic at offset 0, then this writer's u16 major and minor
 * version at 4 and 6 (what `checkPreamble` reads back).
 */
export function writePreamble(bytes: Uint8Array, magic: string): void {
  writeMagic(bytes, magic);
  const dv = viewOf(bytes);
  dv.setUint16(4, BINARY_MAJOR, true);
  dv.setUint16(6, BINARY_MINOR, true);
}

/** Writes a 4-character ASCII magic at offset 0. */
function writeMagic(bytes: Uint8Array, magic: string): void {
  for (let i = 0; i < 4; i++) bytes[i] = magic.charCodeAt(i);
}

/** Checks the 4-byte magic, the major version (u16 at 4) and the header CRC-32 (u32 at `crcAt`, over bytes before it). */
export function checkPreamble(what: string, bytes: Uint8Array, magic: string, crcAt: number): void {
  needBytes(what, bytes, crcAt + 4);
  const got = String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (got !== magic) {
    throw new FormatError("bad_magic", `${what}: expected magic ${JSON.stringify(magic)}, got ${JSON.stringify(got)}`);
  }
  const dv = viewOf(bytes);
  const major = dv.getUint16(4, true);
  const minor = dv.getUint16(6, true);
  if (major !== BINARY_MAJOR) {
    throw new FormatError(
      "unsupported_version",
      `${what}: expected major version ${BINARY_MAJOR}, got ${major}.${minor}`,
    );
  }
  const want = dv.getUint32(crcAt, true);
  const actual = crc32(bytes.subarray(0, crcAt));
  if (want !== actual) {
    throw new FormatError(
      "checksum_mismatch",
      `${what}: header crc32 expected ${hex32(want)}, got ${hex32(actual)}`,
    );
  }
}

/** Stamps the header CRC-32 at `crcAt`, over the bytes before it. */
export function writeHeaderCrc(bytes: Uint8Array, crcAt: number): void {
  viewOf(bytes).setUint32(crcAt, crc32(bytes.subarray(0, crcAt)), true);
}

function hex32(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}
