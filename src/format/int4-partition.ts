// Int4 partition: a partition's rows as the int4 scan reads them, made by a worker from the partition's verified int8
// shard (never written by the build, never named by a manifest) and shared through the colo cache, so the isolates
// that come after read half the bytes and convert nothing. It names the shard it was made from (its sha256), and a
// reader takes it only for that shard; the worker shares it only under its deployment's secret, the header sealed
// (src/worker/store/partitions.ts), since a colo entry, unlike a content-addressed object, is not checked by its key.
//
// Header, INT4_PARTITION_HEADER_BYTES = 64, little-endian:
//   offset size field
//   0      4    magic "I3V4"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 dims (a multiple of 32)
//   12     4    u32 count (rows)
//   16     4    u32 offset of the packed rows (64): [count * dims / 2] u8, two values a byte, each v + 8 (1..15),
//                low nibble first: the kernels' int4 layout (src/search/kernels/int4.ts)
//   20     4    u32 total bytes: 64 + count * dims / 2 + count * 4 (scales) + count * 4 (ordinals)
//   24     32   the sha256 of the int8 shard the rows were made from (raw bytes)
//   56     4    reserved, 0
//   60     4    u32 CRC-32 of bytes 0..59
// Then the scales [count] f32 and the doc ordinals [count] u32, each right after the one before (aligned to 4:
// dims / 2 is a multiple of 16).
import { checkPreamble, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { toHex } from "./checksum.ts";
import { FormatError } from "./errors.ts";

export const INT4_PARTITION_MAGIC = "I3V4";
export const INT4_PARTITION_HEADER_BYTES = 64;
/** What a partition shard's key gets to name its int4 form (a version of this layout: a new one gets a new suffix). */
export const INT4_PARTITION_SUFFIX = ".int4-v1";
const CRC_AT = 60;
const SHA_AT = 24;
const WHAT = "int4 partition";

/** A partition's int4 rows, their scales and doc ordinals, and the shard they were made from. */
export interface Int4Partition {
  dims: number;
  count: number;
  /** The int8 shard's sha256 (hex). */
  shard: string;
  packed: Uint8Array;
  scales: Float32Array;
  ordinals: Uint32Array;
}

const bytesOf = (dims: number, count: number) => INT4_PARTITION_HEADER_BYTES + (count * dims) / 2 + 8 * count;

function shaBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new FormatError("invalid_object", `${WHAT}: shard sha256 ${JSON.stringify(hex)} is not 64 hex digits`);
  return Uint8Array.from({ length: 32 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}


/** Encodes a partition's int4 rows (`packed`: count * dims / 2 bytes). */
export function encodeInt4Partition(p: Int4Partition): Uint8Array {
  const { dims, count } = p;
  if (!Number.isInteger(dims) || dims < 32 || dims % 32 !== 0 || !Number.isInteger(count) || count < 0) {
    throw new FormatError("invalid_object", `${WHAT}: dims ${dims} (a multiple of 32) and count ${count}`);
  }
  if (p.packed.byteLength !== (count * dims) / 2 || p.scales.length !== count || p.ordinals.length !== count) {
    throw new FormatError("invalid_object", `${WHAT}: ${p.packed.byteLength} packed bytes, ${p.scales.length} scales, ${p.ordinals.length} ordinals for ${count} rows of ${dims}`);
  }
  const total = bytesOf(dims, count);
  const out = new Uint8Array(total);
  writePreamble(out, INT4_PARTITION_MAGIC);
  out.set(shaBytes(p.shard), SHA_AT);
  const dv = viewOf(out);
  dv.setUint32(8, dims, true);
  dv.setUint32(12, count, true);
  dv.setUint32(16, INT4_PARTITION_HEADER_BYTES, true);
  dv.setUint32(20, total, true);
  writeHeaderCrc(out, CRC_AT);
  let at = INT4_PARTITION_HEADER_BYTES;
  out.set(p.packed, at);
  at += p.packed.byteLength;
  out.set(new Uint8Array(p.scales.buffer, p.scales.byteOffset, 4 * count), at);
  at += 4 * count;
  out.set(new Uint8Array(p.ordinals.buffer, p.ordinals.byteOffset, 4 * count), at);
  return out;
}

/**
 * Decodes the int4 form of the shard `expect` (its sha256, row count and dims): views over the bytes (over an
 * aligned copy when they are not 4-aligned). Throws FormatError when it is not that shard's (a reader then takes the
 * shard instead).
 */
export function decodeInt4Partition(bytes: Uint8Array, expect: { dims: number; count: number; shard: string }): Int4Partition {
  checkPreamble(WHAT, bytes, INT4_PARTITION_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const dims = dv.getUint32(8, true), count = dv.getUint32(12, true), offset = dv.getUint32(16, true), total = dv.getUint32(20, true);
  const shard = toHex(bytes.subarray(SHA_AT, SHA_AT + 32));
  if (dims !== expect.dims || count !== expect.count || shard !== expect.shard) {
    throw new FormatError("invalid_object", `${WHAT}: ${count} rows of ${dims} dims from shard ${shard}, expected ${expect.count} of ${expect.dims} from ${expect.shard}`);
  }
  if (offset !== INT4_PARTITION_HEADER_BYTES || total !== bytesOf(dims, count) || total !== bytes.byteLength || dv.getUint32(56, true) !== 0) {
    throw new FormatError("invalid_object", `${WHAT}: header (rows at ${offset}, total ${total}) does not fit ${bytes.byteLength} bytes of ${count} rows`);
  }
  const aligned = bytes.byteOffset % 4 === 0;
  const buf = aligned ? bytes.buffer : bytes.slice().buffer; // the sections' offsets are multiples of 4 from the start
  const base = aligned ? bytes.byteOffset : 0;
  const packedBytes = (count * dims) / 2;
  const scalesAt = base + INT4_PARTITION_HEADER_BYTES + packedBytes;
  return {
    dims, count, shard,
    packed: new Uint8Array(buf, base + INT4_PARTITION_HEADER_BYTES, packedBytes),
    scales: new Float32Array(buf, scalesAt, count),
    ordinals: new Uint32Array(buf, scalesAt + 4 * count, count),
  };
}
