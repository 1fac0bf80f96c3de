// Doc block: up to DOCS_PER_BLOCK documents in one object, laid out for R2 range reads. A reader fetches the
// header and offsets table once (small, cacheable), then range-reads only the records it needs.
//
// Header, DOC_HEADER_BYTES = 40, little-endian:
//   offset size field
//   0      4    magic "I3DB"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0; a higher minor still reads)
//   8      4    u32 header bytes (40 in 1.0)
//   12     4    u32 count (documents)
//   16     4    u32 first ordinal: global doc ordinal of record 0
//   20     4    u32 offset of the offsets table: count + 1 u32, record i = [off[i], off[i+1]) from records start
//   24     4    u32 records start
//   28     4    u32 total bytes of the object (records start + off[count])
//   32     4    u32 CRC-32 of the offsets table
//   36     4    u32 CRC-32 of bytes 0..35
// Records: UTF-8 JSON, one object per document, keys in the order id, title, text, metadata.
import { checkPreamble, needBytes, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { crc32 } from "./checksum.ts";
import { FormatError } from "./errors.ts";

/** A document as stored and returned by search. */
export interface Doc {
  id: string;
  title?: string;
  text: string;
  metadata?: Record<string, unknown>;
}

/** Magic of a doc block. */
export const DOC_MAGIC = "I3DB";
/** Bytes of the fixed doc block header. */
export const DOC_HEADER_BYTES = 40;
/** Documents per block the offline writer uses. */
export const DOCS_PER_BLOCK = 4096;

const CRC_AT = 36;
const WHAT = "doc block";

/** The fixed header of a doc block. */
export interface DocBlockHeader {
  major: number;
  minor: number;
  headerBytes: number;
  count: number;
  firstOrdinal: number;
  offsetsOffset: number;
  recordsStart: number;
  totalBytes: number;
  offsetsCrc: number;
}

/** Header plus offsets table: everything needed to locate any record of the block. */
export interface DocBlockIndex {
  count: number;
  firstOrdinal: number;
  /** count + 1 offsets relative to `recordsStart`. */
  offsets: Uint32Array;
  recordsStart: number;
  totalBytes: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function recordJson(d: Doc): string {
  const r: Doc = { id: d.id } as Doc;
  if (d.title !== undefined) r.title = d.title;
  r.text = d.text;
  if (d.metadata !== undefined) r.metadata = d.metadata;
  return JSON.stringify(r);
}

/**
 * Writes a doc block of `docs`, the first having global ordinal `firstOrdinal`.
 *
 * @example
 * const bytes = encodeDocBlock([{ id: "d1", text: "hello" }], 0);
 */
export function encodeDocBlock(docs: readonly Doc[], firstOrdinal: number): Uint8Array {
  if (!Number.isInteger(firstOrdinal) || firstOrdinal < 0 || firstOrdinal + docs.length > 0xffffffff) {
    throw new RangeError(`firstOrdinal out of range: ${firstOrdinal}`);
  }
  const records = docs.map((d, i) => {
    if (typeof d.id !== "string" || typeof d.text !== "string") throw new TypeError(`doc ${i}: id and text must be strings`);
    return encoder.encode(recordJson(d));
  });
  const count = docs.length;
  const offsetsOffset = DOC_HEADER_BYTES;
  const recordsStart = offsetsOffset + (count + 1) * 4;
  const recordsBytes = records.reduce((n, r) => n + r.length, 0);
  const totalBytes = recordsStart + recordsBytes;
  if (totalBytes > 0xffffffff) throw new RangeError(`doc block too large: ${totalBytes} bytes`);

  const out = new Uint8Array(totalBytes);
  const dv = viewOf(out);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    dv.setUint32(offsetsOffset + i * 4, pos, true);
    out.set(records[i], recordsStart + pos);
    pos += records[i].length;
  }
  dv.setUint32(offsetsOffset + count * 4, pos, true);

  writePreamble(out, DOC_MAGIC);
  dv.setUint32(8, DOC_HEADER_BYTES, true);
  dv.setUint32(12, count, true);
  dv.setUint32(16, firstOrdinal, true);
  dv.setUint32(20, offsetsOffset, true);
  dv.setUint32(24, recordsStart, true);
  dv.setUint32(28, totalBytes, true);
  dv.setUint32(32, crc32(out.subarray(offsetsOffset, recordsStart)), true);
  writeHeaderCrc(out, CRC_AT);
  return out;
}

/** Reads and checks the fixed header (the first DOC_HEADER_BYTES bytes). */
export function readDocBlockHeader(bytes: Uint8Array): DocBlockHeader {
  needBytes(WHAT, bytes, DOC_HEADER_BYTES);
  checkPreamble(WHAT, bytes, DOC_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const h: DocBlockHeader = {
    major: dv.getUint16(4, true),
    minor: dv.getUint16(6, true),
    headerBytes: dv.getUint32(8, true),
    count: dv.getUint32(12, true),
    firstOrdinal: dv.getUint32(16, true),
    offsetsOffset: dv.getUint32(20, true),
    recordsStart: dv.getUint32(24, true),
    totalBytes: dv.getUint32(28, true),
    offsetsCrc: dv.getUint32(32, true),
  };
  if (
    h.headerBytes < DOC_HEADER_BYTES ||
    h.offsetsOffset < h.headerBytes ||
    h.recordsStart < h.offsetsOffset + (h.count + 1) * 4 ||
    h.totalBytes < h.recordsStart
  ) {
    throw new FormatError(
      "invalid_object",
      `${WHAT}: inconsistent layout (header ${h.headerBytes}, offsets at ${h.offsetsOffset}, count ${h.count}, ` +
        `records at ${h.recordsStart}, total ${h.totalBytes})`,
    );
  }
  return h;
}

/**
 * Checks a block's header (or index) against the manifest's reference to it: its first ordinal, its count and its
 * size. Throws `invalid_object` on any difference, so a reader never range-reads past the object or serves another
 * block's documents.
 *
 * @example
 * checkDocBlock(readDocBlockHeader(first40), manifest.docs.blocks[i]);
 */
export function checkDocBlock(
  got: { firstOrdinal: number; count: number; totalBytes: number },
  ref: { first: number; count: number; bytes: number },
): void {
  if (got.firstOrdinal !== ref.first || got.count !== ref.count || got.totalBytes !== ref.bytes) {
    throw new FormatError(
      "invalid_object",
      `${WHAT}: header says ordinals ${got.firstOrdinal}+${got.count} in ${got.totalBytes} bytes, manifest ${ref.first}+${ref.count} in ${ref.bytes}`,
    );
  }
}

/**
 * The prefix a block of `count` documents written by this version has (header and offsets table): what a reader that
 * knows the count (from the manifest) reads in one range read. A block whose header says otherwise is read again.
 */
export function expectedDocBlockPrefix(count: number): number {
  return DOC_HEADER_BYTES + (count + 1) * 4;
}

/**
 * How many prefix bytes `readDocBlockIndex` needs: header plus offsets table.
 *
 * @example
 * const h = readDocBlockHeader(first40);
 * const prefix = await r2.get(key, { range: { length: docBlockIndexBytes(h) } });
 */
export function docBlockIndexBytes(header: DocBlockHeader): number {
  return header.recordsStart;
}

/**
 * Reads header and offsets table from a prefix of the object (at least `docBlockIndexBytes` bytes; the whole
 * object works too). Checks the offsets CRC and that offsets are increasing and end at total bytes.
 */
export function readDocBlockIndex(prefixBytes: Uint8Array): DocBlockIndex {
  const h = readDocBlockHeader(prefixBytes);
  needBytes(WHAT, prefixBytes, h.recordsStart);
  const tableEnd = h.offsetsOffset + (h.count + 1) * 4;
  const actualCrc = crc32(prefixBytes.subarray(h.offsetsOffset, tableEnd));
  if (actualCrc !== h.offsetsCrc) {
    throw new FormatError("checksum_mismatch", `${WHAT}: offsets crc32 expected ${h.offsetsCrc}, got ${actualCrc}`);
  }
  const dv = viewOf(prefixBytes);
  const offsets = new Uint32Array(h.count + 1);
  for (let i = 0; i <= h.count; i++) {
    offsets[i] = dv.getUint32(h.offsetsOffset + i * 4, true);
    if (i > 0 && offsets[i] < offsets[i - 1]) {
      throw new FormatError("invalid_object", `${WHAT}: offset ${i} (${offsets[i]}) is below offset ${i - 1} (${offsets[i - 1]})`);
    }
  }
  if (offsets[0] !== 0 || h.recordsStart + offsets[h.count] !== h.totalBytes) {
    throw new FormatError(
      "invalid_object",
      `${WHAT}: records expected to span ${h.recordsStart}..${h.totalBytes}, offsets span ${offsets[0]}..${offsets[h.count]}`,
    );
  }
  return { count: h.count, firstOrdinal: h.firstOrdinal, offsets, recordsStart: h.recordsStart, totalBytes: h.totalBytes };
}

/**
 * Byte range (absolute in the object) of the record of global doc ordinal `ordinal`; a RangeError if the
 * block does not hold it.
 *
 * @example
 * const { offset, length } = byteRangeOf(index, 12345);
 * const doc = decodeDocRecord(await r2.get(key, { range: { offset, length } }));
 */
export function byteRangeOf(index: DocBlockIndex, ordinal: number): { offset: number; length: number } {
  const i = ordinal - index.firstOrdinal;
  if (!Number.isInteger(i) || i < 0 || i >= index.count) {
    throw new RangeError(
      `doc ordinal ${ordinal} is not in this block (${index.firstOrdinal}..${index.firstOrdinal + index.count - 1})`,
    );
  }
  return { offset: index.recordsStart + index.offsets[i], length: index.offsets[i + 1] - index.offsets[i] };
}

/** Decodes one record (its exact bytes) into a Doc; `invalid_object` if it is not a valid record. */
export function decodeDocRecord(bytes: Uint8Array): Doc {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new FormatError("invalid_object", `${WHAT}: record is not UTF-8 JSON (${(e as Error).message})`, { cause: e });
  }
  const r = v as Record<string, unknown>;
  const ok =
    typeof v === "object" && v !== null && !Array.isArray(v) &&
    typeof r.id === "string" && typeof r.text === "string" &&
    (r.title === undefined || typeof r.title === "string") &&
    (r.metadata === undefined || (typeof r.metadata === "object" && r.metadata !== null && !Array.isArray(r.metadata)));
  if (!ok) throw new FormatError("invalid_object", `${WHAT}: record expected {id, title?, text, metadata?}, got ${JSON.stringify(v).slice(0, 80)}`);
  return r as unknown as Doc;
}

/** Decodes every record of a whole block (merge and tests). */
export function decodeDocBlock(bytes: Uint8Array): Doc[] {
  const index = readDocBlockIndex(bytes);
  needBytes(WHAT, bytes, index.totalBytes);
  const docs: Doc[] = [];
  for (let i = 0; i < index.count; i++) {
    const { offset, length } = byteRangeOf(index, index.firstOrdinal + i);
    docs.push(decodeDocRecord(bytes.subarray(offset, offset + length)));
  }
  return docs;
}
