// Tombstones (manifest 3.0 `tombstones`): the documents of the base segment that were deleted or replaced by an
// incremental update (`i3 build --base ... --upsert ... --delete ...`), one bit per base document. Every side of a
// search skips them as it skips documents a filter rejects; `i3 compact` folds them away.
//
// Header, TOMBSTONES_HEADER_BYTES = 32, little-endian:
//   offset size field
//   0      4    magic "I3TS"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 header bytes (32)
//   12     4    u32 documents (bits that count; bits past it are clear)
//   16     4    u32 deleted (bits set)
//   20     4    u32 total bytes of the object
//   24     4    reserved (0)
//   28     4    u32 CRC-32 of bytes 0..27
// Then ceil(documents / 32) u32 words: bit `o & 31` of word `o >>> 5` set when document `o` is deleted.
import { checkPreamble, popcount, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { FormatError } from "./errors.ts";

export const TOMBSTONES_MAGIC = "I3TS";
export const TOMBSTONES_HEADER_BYTES = 32;
const CRC_AT = 28;
const WHAT = "tombstones";

/** Deleted base documents as a bitset. */
export interface Tombstones {
  documents: number;
  deleted: number;
  bits: Uint32Array;
}

/** Whether document `o` is deleted. */
export function isDeleted(t: Tombstones, o: number): boolean {
  return o < t.documents && (t.bits[o >>> 5] & (1 << (o & 31))) !== 0;
}

/**
 * Writes the tombstones of `documents` base documents (each ordinal below it, any order, repeats allowed).
 *
 * @example
 * const bytes = encodeTombstones([3, 17], 100);
 */
export function encodeTombstones(deleted: Iterable<number>, documents: number): Uint8Array {
  const words = (documents + 31) >>> 5;
  const total = TOMBSTONES_HEADER_BYTES + 4 * words;
  const out = new Uint8Array(total);
  const bits = new Uint32Array(out.buffer, TOMBSTONES_HEADER_BYTES, words);
  let count = 0;
  for (const o of deleted) {
    if (!Number.isInteger(o) || o < 0 || o >= documents) throw new RangeError(`tombstones: ordinal ${o} is not below ${documents}`);
    const bit = 1 << (o & 31);
    if ((bits[o >>> 5] & bit) === 0) count++;
    bits[o >>> 5] |= bit;
  }
  writePreamble(out, TOMBSTONES_MAGIC);
  const dv = viewOf(out);
  dv.setUint32(8, TOMBSTONES_HEADER_BYTES, true);
  dv.setUint32(12, documents, true);
  dv.setUint32(16, count, true);
  dv.setUint32(20, total, true);
  writeHeaderCrc(out, CRC_AT);
  return out;
}

/** Decodes and checks the object (sizes, the count of set bits, no bit past `documents`); FormatError otherwise. */
export function decodeTombstones(bytes: Uint8Array): Tombstones {
  checkPreamble(WHAT, bytes, TOMBSTONES_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const documents = dv.getUint32(12, true);
  const deleted = dv.getUint32(16, true);
  const total = dv.getUint32(20, true);
  const words = (documents + 31) >>> 5;
  const want = TOMBSTONES_HEADER_BYTES + 4 * words;
  if (dv.getUint32(8, true) !== TOMBSTONES_HEADER_BYTES || total !== want || bytes.byteLength !== total) {
    throw new FormatError("truncated", `${WHAT}: expected ${want} bytes, header says ${total}, object has ${bytes.byteLength}`);
  }
  const bits = new Uint32Array(bytes.slice(TOMBSTONES_HEADER_BYTES).buffer);
  let count = 0;
  for (let w = 0; w < words; w++) count += popcount(bits[w]);
  if (count !== deleted) throw new FormatError("invalid_object", `${WHAT}: ${count} bits set, header says ${deleted}`);
  if (documents & 31 && bits[words - 1] >>> (documents & 31) !== 0) throw new FormatError("invalid_object", `${WHAT}: bits set past document ${documents}`);
  return { documents, deleted, bits };
}
