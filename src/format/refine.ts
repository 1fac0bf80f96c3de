// Refine vectors: one binary object per partition holding its passage vectors in half precision, row for row with
// the partition's vector shard. The scan ranks a partition's passages by int8; the few best candidates are then
// scored again from these rows, which separates neighbours that int8 cannot (similarities equal to the third
// decimal). Fetched only for partitions that hold such candidates.
//
// Header, REFINE_HEADER_BYTES = 32, little-endian:
//   offset size field
//   0      4    magic "I3VF"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 dims
//   12     4    u32 count (rows)
//   16     4    u32 offset of the rows [count * dims] binary16 (32)
//   20     4    u32 total bytes of the object
//   24     4    reserved, 0
//   28     4    u32 CRC-32 of bytes 0..27
import { alignUp, BINARY_MAJOR, BINARY_MINOR, checkPreamble, needBytes, viewOf, writeHeaderCrc, writeMagic } from "./binary.ts";
import { FormatError } from "./errors.ts";
import { encodeFloat16 } from "./float16.ts";

export const REFINE_MAGIC = "I3VF";
export const REFINE_HEADER_BYTES = 32;
const CRC_AT = 28;

/** A decoded refine object: binary16 rows as a view into its bytes. */
export interface RefineVectors {
  dims: number;
  count: number;
  /** [count * dims] binary16 bits; decode with float16Table(). */
  rows: Uint16Array;
}

/** Encodes float rows ([count * dims]) as a refine object. */
export function encodeRefine(dims: number, rows: Float32Array): Uint8Array {
  if (!Number.isInteger(dims) || dims < 1 || rows.length % dims !== 0) {
    throw new FormatError("invalid_object", `refine: ${rows.length} values are not whole rows of ${dims} dims`);
  }
  const count = rows.length / dims;
  const total = alignUp(REFINE_HEADER_BYTES + count * dims * 2, 16);
  const bytes = new Uint8Array(total);
  writeMagic(bytes, REFINE_MAGIC);
  const dv = viewOf(bytes);
  dv.setUint16(4, BINARY_MAJOR, true);
  dv.setUint16(6, BINARY_MINOR, true);
  dv.setUint32(8, dims, true);
  dv.setUint32(12, count, true);
  dv.setUint32(16, REFINE_HEADER_BYTES, true);
  dv.setUint32(20, total, true);
  writeHeaderCrc(bytes, CRC_AT);
  new Uint16Array(bytes.buffer, bytes.byteOffset + REFINE_HEADER_BYTES, count * dims).set(encodeFloat16(rows));
  return bytes;
}

/** Decodes a refine object (views, no copy when aligned). Throws FormatError on any inconsistency. */
export function decodeRefine(bytes: Uint8Array): RefineVectors {
  checkPreamble("refine vectors", bytes, REFINE_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const dims = dv.getUint32(8, true);
  const count = dv.getUint32(12, true);
  const offset = dv.getUint32(16, true);
  const total = dv.getUint32(20, true);
  if (dims < 1 || offset < REFINE_HEADER_BYTES || offset % 2 !== 0 || total !== bytes.byteLength || offset + count * dims * 2 > total) {
    throw new FormatError("invalid_object", `refine vectors: header (dims ${dims}, count ${count}, rows at ${offset}, total ${total}) does not fit ${bytes.byteLength} bytes`);
  }
  needBytes("refine vectors", bytes, offset + count * dims * 2);
  const at = bytes.byteOffset + offset;
  const rows = at % 2 === 0
    ? new Uint16Array(bytes.buffer, at, count * dims)
    : new Uint16Array(bytes.slice(offset, offset + count * dims * 2).buffer);
  return { dims, count, rows };
}
