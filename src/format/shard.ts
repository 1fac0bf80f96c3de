// Vector shard: one binary object holding `count` passage vectors of one partition.
//
// Header, HEADER_BYTES = 64, little-endian:
//   offset size field
//   0      4    magic "I3VS"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0; a higher minor still reads, it only adds)
//   8      4    u32 header bytes (64 in 1.0; readers take the sections from the offsets below, never from this)
//   12     4    u32 dims
//   16     4    u32 count (vectors)
//   20     1    u8  quantization code (1 = int8, per-vector symmetric scale)
//   21     1    u8  section alignment in bytes (16)
//   22     2    u16 reserved, 0
//   24     4    u32 first passage: global passage ordinal of vector 0 (vector j is passage first + j)
//   28     4    u32 offset of the int8 vectors      [count * dims]            i8
//   32     4    u32 offset of the scales            [count]                   f32
//   36     4    u32 offset of the sign codes        [count * ceil(dims / 8)]  u8, bit i = x_i > 0, LSB first
//   40     4    u32 offset of the doc ordinals      [count]                   u32, the document of each vector
//   44     4    u32 total bytes of the object
//   48     12   reserved, 0
//   60     4    u32 CRC-32 of bytes 0..59
// Every section starts at a multiple of 16 from the start of the object; gaps are zero.
import { alignUp, checkPreamble, needBytes, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { FormatError } from "./errors.ts";
import { codeBytes, signCodes } from "./quantize.ts";

/** Magic of a vector shard. */
export const SHARD_MAGIC = "I3VS";
/** Bytes of the fixed shard header: a range read of this many bytes is enough for `readShardHeader`. */
export const HEADER_BYTES = 64;
/** Alignment of every section, so typed-array views need no copy. */
export const SHARD_ALIGN = 16;
/** Quantization codes of the header byte at offset 20. */
export const QUANTIZATION_CODES = { int8: 1 } as const;

const CRC_AT = 60;

/** The decoded fixed header of a vector shard. */
export interface ShardHeader {
  major: number;
  minor: number;
  headerBytes: number;
  dims: number;
  count: number;
  quantization: "int8";
  firstPassage: number;
  vectorsOffset: number;
  scalesOffset: number;
  codesOffset: number;
  ordinalsOffset: number;
  totalBytes: number;
}

/** What a writer hands to `encodeShard`: quantized vectors, their scales and doc ordinals. */
export interface ShardInput {
  dims: number;
  vectors: Int8Array;
  scales: Float32Array;
  ordinals: Uint32Array;
  /** Sign codes; computed from `vectors` when absent (pass codes from the float vectors to keep tiny positives). */
  codes?: Uint8Array;
  /** Global passage ordinal of the first vector (default 0). */
  firstPassage?: number;
}

/** A decoded shard: views into the object's bytes, no copies. */
export interface Shard {
  header: ShardHeader;
  vectors: Int8Array;
  scales: Float32Array;
  codes: Uint8Array;
  ordinals: Uint32Array;
}

function layout(dims: number, count: number) {
  const vectorsOffset = HEADER_BYTES;
  const scalesOffset = alignUp(vectorsOffset + count * dims, SHARD_ALIGN);
  const codesOffset = alignUp(scalesOffset + count * 4, SHARD_ALIGN);
  const ordinalsOffset = alignUp(codesOffset + count * codeBytes(dims), SHARD_ALIGN);
  const totalBytes = alignUp(ordinalsOffset + count * 4, SHARD_ALIGN);
  return { vectorsOffset, scalesOffset, codesOffset, ordinalsOffset, totalBytes };
}

/**
 * Writes a vector shard object.
 *
 * @example
 * const q = quantizeInt8(floats, 256);
 * const bytes = encodeShard({ dims: 256, ...q, codes: signCodes(floats, 256), ordinals });
 */
export function encodeShard(input: ShardInput): Uint8Array {
  const { dims, vectors, scales, ordinals } = input;
  if (!Number.isInteger(dims) || dims <= 0 || dims > 0xffff) throw new RangeError(`dims must be in 1..65535, got ${dims}`);
  const count = scales.length;
  if (vectors.length !== count * dims) throw new RangeError(`vectors: expected ${count * dims} values, got ${vectors.length}`);
  if (ordinals.length !== count) throw new RangeError(`ordinals: expected ${count} values, got ${ordinals.length}`);
  const codes = input.codes ?? signCodes(vectors, dims);
  if (codes.length !== count * codeBytes(dims)) {
    throw new RangeError(`codes: expected ${count * codeBytes(dims)} bytes, got ${codes.length}`);
  }
  const firstPassage = input.firstPassage ?? 0;
  if (!Number.isInteger(firstPassage) || firstPassage < 0 || firstPassage + count > 0xffffffff) {
    throw new RangeError(`firstPassage out of range: ${firstPassage}`);
  }
  const l = layout(dims, count);
  if (l.totalBytes > 0xffffffff) throw new RangeError(`shard too large: ${l.totalBytes} bytes`);

  const out = new Uint8Array(l.totalBytes);
  const dv = viewOf(out);
  writePreamble(out, SHARD_MAGIC);
  dv.setUint32(8, HEADER_BYTES, true);
  dv.setUint32(12, dims, true);
  dv.setUint32(16, count, true);
  out[20] = QUANTIZATION_CODES.int8;
  out[21] = SHARD_ALIGN;
  dv.setUint32(24, firstPassage, true);
  dv.setUint32(28, l.vectorsOffset, true);
  dv.setUint32(32, l.scalesOffset, true);
  dv.setUint32(36, l.codesOffset, true);
  dv.setUint32(40, l.ordinalsOffset, true);
  dv.setUint32(44, l.totalBytes, true);
  writeHeaderCrc(out, CRC_AT);

  out.set(new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength), l.vectorsOffset);
  out.set(new Uint8Array(scales.buffer, scales.byteOffset, scales.byteLength), l.scalesOffset);
  out.set(codes, l.codesOffset);
  out.set(new Uint8Array(ordinals.buffer, ordinals.byteOffset, ordinals.byteLength), l.ordinalsOffset);
  return out;
}

/**
 * Reads and checks the fixed header; needs only the first HEADER_BYTES bytes (one range read).
 * Throws `bad_magic`, `unsupported_version`, `truncated`, `checksum_mismatch` or `invalid_object`.
 *
 * @example
 * const header = readShardHeader(await r2.get(key, { range: { length: HEADER_BYTES } }));
 */
export function readShardHeader(bytes: Uint8Array): ShardHeader {
  const what = "vector shard";
  needBytes(what, bytes, HEADER_BYTES);
  checkPreamble(what, bytes, SHARD_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const h: ShardHeader = {
    major: dv.getUint16(4, true),
    minor: dv.getUint16(6, true),
    headerBytes: dv.getUint32(8, true),
    dims: dv.getUint32(12, true),
    count: dv.getUint32(16, true),
    quantization: "int8",
    firstPassage: dv.getUint32(24, true),
    vectorsOffset: dv.getUint32(28, true),
    scalesOffset: dv.getUint32(32, true),
    codesOffset: dv.getUint32(36, true),
    ordinalsOffset: dv.getUint32(40, true),
    totalBytes: dv.getUint32(44, true),
  };
  const bad = (msg: string) => new FormatError("invalid_object", `${what}: ${msg}`);
  if (bytes[20] !== QUANTIZATION_CODES.int8) throw bad(`expected quantization code ${QUANTIZATION_CODES.int8}, got ${bytes[20]}`);
  if (h.dims === 0) throw bad("dims is 0");
  if (h.headerBytes < HEADER_BYTES) throw bad(`header bytes ${h.headerBytes} < ${HEADER_BYTES}`);
  const sections: Array<[string, number, number]> = [
    ["vectors", h.vectorsOffset, h.count * h.dims],
    ["scales", h.scalesOffset, h.count * 4],
    ["codes", h.codesOffset, h.count * codeBytes(h.dims)],
    ["ordinals", h.ordinalsOffset, h.count * 4],
  ];
  for (const [name, off, len] of sections) {
    if (off % 4 !== 0 || off < h.headerBytes || off + len > h.totalBytes) {
      throw bad(`section ${name} at ${off} (+${len} bytes) does not fit in ${h.headerBytes}..${h.totalBytes}`);
    }
  }
  return h;
}

/**
 * Decodes a whole shard into typed-array views over `bytes` (no copy when `bytes.byteOffset` is 4-aligned,
 * as it is for any freshly fetched object; otherwise the object is copied once).
 *
 * @example
 * const { header, vectors, scales, codes, ordinals } = decodeShard(bytes);
 */
export function decodeShard(bytes: Uint8Array): Shard {
  const header = readShardHeader(bytes);
  needBytes("vector shard", bytes, header.totalBytes);
  if (bytes.byteOffset % 4 !== 0) bytes = bytes.slice();
  const { buffer, byteOffset } = bytes;
  const { count, dims } = header;
  return {
    header,
    vectors: new Int8Array(buffer, byteOffset + header.vectorsOffset, count * dims),
    scales: new Float32Array(buffer, byteOffset + header.scalesOffset, count),
    codes: new Uint8Array(buffer, byteOffset + header.codesOffset, count * codeBytes(dims)),
    ordinals: new Uint32Array(buffer, byteOffset + header.ordinalsOffset, count),
  };
}

/**
 * Decodes a shard an index names and checks it against what the manifest says of it: `count` vectors of `dims`
 * dimensions. Throws FormatError `invalid_object` naming it as `what` (a shard, a partition) otherwise.
 *
 * @example
 * const shard = checkedShard(bytes, { path: ref.path, count: ref.count }, 512, "partition");
 */
export function checkedShard(bytes: Uint8Array, ref: { path: string; count?: number }, dims: number, what: string): Shard {
  const d = decodeShard(bytes);
  if (d.header.dims !== dims || d.header.count !== ref.count) {
    throw new FormatError("invalid_object", `${what} ${ref.path}: expected ${ref.count} vectors of ${dims} dims, got ${d.header.count} of ${d.header.dims}`);
  }
  return d;
}
