// Float rows: one binary object holding `count` rows of `dims` floats. Two kinds, told apart by their magic:
//  - refine vectors ("I3VF", binary16): a partition's passage vectors in half precision, row for row with the
//    partition's vector shard. The scan ranks passages by int8; the best few are scored again from these rows,
//    which separates neighbours int8 cannot (similarities equal to the third decimal). Fetched only for partitions
//    that hold such candidates.
//  - centroids ("I3VC", float32): the unit centroids of an index's partitions, row p = partition p.
//
// Header, FLOAT_ROWS_HEADER_BYTES = 32, little-endian:
//   offset size field
//   0      4    magic "I3VF" | "I3VC"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 dims
//   12     4    u32 count (rows)
//   16     4    u32 offset of the rows (32): [count * dims] binary16 (I3VF) or float32 (I3VC)
//   20     4    u32 total bytes of the object
//   24     4    reserved, 0
//   28     4    u32 CRC-32 of bytes 0..27
import { alignUp, checkPreamble, needBytes, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { FormatError } from "./errors.ts";
import { encodeFloat16 } from "./float16.ts";

export const FLOAT_ROWS_HEADER_BYTES = 32;
const CRC_AT = 28;

/** The two kinds of float rows, their magic and bytes per value. */
export const FLOAT_ROWS = {
  refine: { magic: "I3VF", bytes: 2, what: "refine vectors" },
  centroids: { magic: "I3VC", bytes: 4, what: "centroids" },
} as const;
export type FloatRowsKind = keyof typeof FLOAT_ROWS;

/** Decoded float rows: binary16 bits (refine; decode with float16Table()) or float32 values (centroids). */
export interface FloatRows<K extends FloatRowsKind = FloatRowsKind> {
  dims: number;
  count: number;
  rows: K extends "refine" ? Uint16Array : Float32Array;
}
export type RefineVectors = FloatRows<"refine">;

/** Encodes float rows ([count * dims]) as an object of the given kind. */
export function encodeFloatRows(kind: FloatRowsKind, dims: number, rows: Float32Array): Uint8Array {
  const k = FLOAT_ROWS[kind];
  if (!Number.isInteger(dims) || dims < 1 || rows.length % dims !== 0) {
    throw new FormatError("invalid_object", `${k.what}: ${rows.length} values are not whole rows of ${dims} dims`);
  }
  const count = rows.length / dims;
  const total = alignUp(FLOAT_ROWS_HEADER_BYTES + count * dims * k.bytes, 16);
  const bytes = new Uint8Array(total);
  writePreamble(bytes, k.magic);
  const dv = viewOf(bytes);
  dv.setUint32(8, dims, true);
  dv.setUint32(12, count, true);
  dv.setUint32(16, FLOAT_ROWS_HEADER_BYTES, true);
  dv.setUint32(20, total, true);
  writeHeaderCrc(bytes, CRC_AT);
  const at = bytes.byteOffset + FLOAT_ROWS_HEADER_BYTES;
  if (kind === "refine") new Uint16Array(bytes.buffer, at, count * dims).set(encodeFloat16(rows));
  else new Float32Array(bytes.buffer, at, count * dims).set(rows);
  return bytes;
}

/** Decodes float rows of the given kind (views when aligned). Throws FormatError on any inconsistency. */
export function decodeFloatRows<K extends FloatRowsKind>(kind: K, bytes: Uint8Array): FloatRows<K> {
  const k = FLOAT_ROWS[kind];
  checkPreamble(k.what, bytes, k.magic, CRC_AT);
  const dv = viewOf(bytes);
  const dims = dv.getUint32(8, true);
  const count = dv.getUint32(12, true);
  const offset = dv.getUint32(16, true);
  const total = dv.getUint32(20, true);
  const size = count * dims * k.bytes;
  if (dims < 1 || offset < FLOAT_ROWS_HEADER_BYTES || offset % k.bytes !== 0 || total !== bytes.byteLength || offset + size > total) {
    throw new FormatError("invalid_object", `${k.what}: header (dims ${dims}, count ${count}, rows at ${offset}, total ${total}) does not fit ${bytes.byteLength} bytes`);
  }
  needBytes(k.what, bytes, offset + size);
  const aligned = (bytes.byteOffset + offset) % k.bytes === 0;
  const buf = aligned ? bytes.buffer : bytes.slice(offset, offset + size).buffer;
  const at = aligned ? bytes.byteOffset + offset : 0;
  const rows = kind === "refine" ? new Uint16Array(buf, at, count * dims) : new Float32Array(buf, at, count * dims);
  return { dims, count, rows } as FloatRows<K>;
}
