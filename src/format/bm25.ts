// The lexical part of an index: a BM25 inverted index over whole documents (title + text), partitioned so a
// reader fetches only the posting lists a query needs. Terms are hashed (FNV-1a 32 of their UTF-8 bytes) into
// `buckets` objects; a doc-length object holds one byte per document (Lucene's SmallFloat.intToByte4 length norm:
// exact below 24 tokens, 4 significant bits above). The manifest's `lexical` section (manifest 1.1,
// src/format/bm25-section.ts) lists them.
//
// Bucket object, LEX_HEADER_BYTES = 32, little-endian:
//   offset size field
//   0      4    magic "I3LB"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 header bytes (32)
//   12     4    u32 bucket id (term hash % bucket count)
//   16     4    u32 bucket count
//   20     4    u32 terms in this bucket
//   24     4    u32 total bytes of the object
//   28     4    u32 CRC-32 of bytes 0..27
// Then the dictionary, terms sorted by code unit: per term varint(term UTF-8 bytes) + bytes + varint(df)
// + varint(postings bytes); then the postings of every term in dictionary order: df x (varint(doc ordinal delta,
// the first from 0), varint(tf)).
//
// Doc-length object, same 32-byte header shape with magic "I3LN": 12 u32 documents, 16 u32 norm encoding
// (1 = Lucene byte4), 20 u32 reserved (0), 24 u32 total bytes, 28 CRC; then one byte per document.
import { checkPreamble, needBytes, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { FormatError } from "./errors.ts";

export const LEX_BUCKET_MAGIC = "I3LB";
export const LEX_NORMS_MAGIC = "I3LN";
export const LEX_HEADER_BYTES = 32;
const CRC_AT = 28;
const NORM_BYTE4 = 1;

/** One term's entry in a decoded bucket. */
export interface LexicalTerm {
  df: number;
  /** Byte range of its postings within the bucket's bytes. */
  start: number;
  end: number;
}

/** A decoded bucket: the dictionary, and the bytes postings are read from. */
export interface LexicalBucket {
  id: number;
  buckets: number;
  terms: Map<string, LexicalTerm>;
  bytes: Uint8Array;
  /** The index's document count, when decoded with it: every posting read is checked to be below it. */
  documents?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** FNV-1a 32-bit hash of the term's UTF-8 bytes. */
export function termHash(term: string): number {
  let h = 0x811c9dc5;
  for (const b of enc.encode(term)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The bucket a term lives in. */
export function bucketOf(term: string, buckets: number): number {
  return termHash(term) % buckets;
}

// Lucene SmallFloat.intToByte4 / byte4ToInt.
const NUM_FREE = 24;
function longToInt4(i: number): number {
  const bits = 32 - Math.clz32(i);
  if (bits < 4) return i;
  const shift = bits - 4;
  return ((i >>> shift) & 0x07) | ((shift + 1) << 3);
}
function int4ToLong(i: number): number {
  const bits = i & 0x07;
  const shift = (i >>> 3) - 1;
  return shift === -1 ? bits : (bits | 0x08) * 2 ** shift;
}

/** A document length (terms) as one byte (Lucene's intToByte4). */
export function lengthToByte(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`length must be a non-negative integer, got ${n}`);
  n = Math.min(n, 0x7fffffff);
  return n < NUM_FREE ? n : NUM_FREE + longToInt4(n - NUM_FREE);
}

/** The length a byte stands for (Lucene's byte4ToInt). */
export function byteToLength(b: number): number {
  return b < NUM_FREE ? b : NUM_FREE + int4ToLong(b - NUM_FREE);
}

// Varints: unsigned LEB128, up to 2^32 - 1.
export function writeVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

/** Reads a varint at `pos.i` (advancing it); throws `invalid_object` past `end`. */
export function readVarint(bytes: Uint8Array, pos: { i: number }, end: number): number {
  const first = pos.i < end ? bytes[pos.i] : 0x80;
  if (first < 0x80) {
    pos.i++; // one byte: most posting gaps of a common term and nearly every tf
    return first;
  }
  let v = 0;
  let mul = 1;
  for (let n = 0; n < 5; n++) {
    if (pos.i >= end) throw new FormatError("invalid_object", `lexical bucket: varint runs past byte ${end}`);
    const b = bytes[pos.i++];
    if (n === 4 && b > 0x0f) throw new FormatError("invalid_object", "lexical bucket: varint over 32 bits");
    v += (b & 0x7f) * mul;
    if (b < 0x80) return v;
    mul *= 128;
  }
  throw new FormatError("invalid_object", "lexical bucket: varint longer than 5 bytes");
}

function header(magic: string, a: number, b: number, c: number, total: number): Uint8Array {
  const h = new Uint8Array(LEX_HEADER_BYTES);
  writePreamble(h, magic);
  const dv = viewOf(h);
  dv.setUint32(8, LEX_HEADER_BYTES, true);
  dv.setUint32(12, a, true);
  dv.setUint32(16, b, true);
  dv.setUint32(20, c, true);
  dv.setUint32(24, total, true);
  writeHeaderCrc(h, CRC_AT);
  return h;
}

/** Postings of one term: ascending doc ordinals and their term frequencies. */
export interface TermPostings {
  term: string;
  docs: ArrayLike<number>;
  tfs: ArrayLike<number>;
}

/** Postings bytes of one term (what a bucket stores after the dictionary). */
export function encodePostings(docs: ArrayLike<number>, tfs: ArrayLike<number>): number[] {
  const out: number[] = [];
  let prev = 0;
  for (let i = 0; i < docs.length; i++) {
    if (i > 0 && docs[i] <= prev) throw new RangeError(`postings: doc ordinals must ascend (${docs[i]} after ${prev})`);
    if (!(tfs[i] >= 1)) throw new RangeError(`postings: tf must be >= 1, got ${tfs[i]}`);
    writeVarint(out, docs[i] - (i > 0 ? prev : 0));
    writeVarint(out, tfs[i]);
    prev = docs[i];
  }
  return out;
}

/**
 * Writes bucket `id` of `buckets` holding `terms` (any order; sorted here). Each term must hash to `id`.
 *
 * @example
 * const bytes = encodeLexicalBucket(0, 1, [{ term: "bone", docs: [0, 3], tfs: [2, 1] }]);
 */
export function encodeLexicalBucket(id: number, buckets: number, terms: TermPostings[]): Uint8Array {
  const sorted = [...terms].sort((a, b) => (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
  const dict: number[] = [];
  const posts: number[][] = [];
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i];
    if (i > 0 && sorted[i - 1].term === t.term) throw new RangeError(`lexical bucket: term ${JSON.stringify(t.term)} twice`);
    if (bucketOf(t.term, buckets) !== id) throw new RangeError(`lexical bucket ${id}: term ${JSON.stringify(t.term)} belongs to bucket ${bucketOf(t.term, buckets)}`);
    const p = encodePostings(t.docs, t.tfs);
    const tb = enc.encode(t.term);
    writeVarint(dict, tb.length);
    for (const b of tb) dict.push(b);
    writeVarint(dict, t.docs.length);
    writeVarint(dict, p.length);
    posts.push(p);
  }
  const total = LEX_HEADER_BYTES + dict.length + posts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  out.set(header(LEX_BUCKET_MAGIC, id, buckets, sorted.length, total), 0);
  out.set(dict, LEX_HEADER_BYTES);
  let at = LEX_HEADER_BYTES + dict.length;
  for (const p of posts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Decodes a bucket's header and dictionary (postings stay as bytes until a query reads them: decodePostings checks
 * each as it reads it, doc ordinals ascending below `documents` (the index's, when given), tf >= 1, each term's
 * postings exactly its bytes, so a query never scores a bad posting, nor a document without a norm). A bucket holds
 * many terms and a query reads one or two of them: checking them all here cost a 1M-passage index about 100 ms of
 * a cold query. Throws `invalid_object`.
 *
 * @example
 * const bucket = decodeLexicalBucket(bytes, manifest.lexical.documents);
 */
export function decodeLexicalBucket(bytes: Uint8Array, documents?: number): LexicalBucket {
  checkPreamble("lexical bucket", bytes, LEX_BUCKET_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const id = dv.getUint32(12, true);
  const buckets = dv.getUint32(16, true);
  const count = dv.getUint32(20, true);
  const total = dv.getUint32(24, true);
  needBytes("lexical bucket", bytes, total);
  if (bytes.byteLength !== total) throw new FormatError("invalid_object", `lexical bucket: header says ${total} bytes, object has ${bytes.byteLength}`);
  const pos = { i: dv.getUint32(8, true) };
  if (pos.i < LEX_HEADER_BYTES || pos.i > total) throw new FormatError("invalid_object", `lexical bucket: header bytes ${pos.i} outside ${LEX_HEADER_BYTES}..${total}`);
  const entries: Array<[string, number, number]> = [];
  for (let n = 0; n < count; n++) {
    const len = readVarint(bytes, pos, total);
    if (pos.i + len > total) throw new FormatError("invalid_object", "lexical bucket: term runs past the end");
    let term: string;
    try {
      term = dec.decode(bytes.subarray(pos.i, pos.i + len));
    } catch {
      throw new FormatError("invalid_object", "lexical bucket: term is not UTF-8");
    }
    pos.i += len;
    entries.push([term, readVarint(bytes, pos, total), readVarint(bytes, pos, total)]);
  }
  const terms = new Map<string, LexicalTerm>();
  let at = pos.i;
  for (const [term, df, len] of entries) {
    // A posting takes at least two bytes: a df the postings cannot hold is refused before anything is sized by it.
    if (df * 2 > len) throw new FormatError("invalid_object", `lexical bucket: term with df ${df} has ${len} bytes of postings (at least ${2 * df})`);
    terms.set(term, { df, start: at, end: at + len });
    at += len;
  }
  if (at !== total) throw new FormatError("invalid_object", `lexical bucket: postings end at ${at}, object at ${total}`);
  return documents === undefined ? { id, buckets, terms, bytes } : { id, buckets, terms, bytes, documents };
}

/**
 * The postings of `t` in `bucket` into `docs` and `tfs` (their first `t.df` entries: the caller gives arrays at
 * least that long, and may reuse them across terms), each checked as it is read: documents ascending and below the
 * bucket's `documents` (else 2^32), tf >= 1. Throws `invalid_object` on malformed bytes.
 */
export function decodePostings(bucket: LexicalBucket, t: LexicalTerm, docs: Uint32Array, tfs: Uint32Array, blocks?: PostingBlocks): void {
  if (docs.length < t.df || tfs.length < t.df) throw new RangeError(`decodePostings: arrays of ${Math.min(docs.length, tfs.length)} for ${t.df} postings`);
  if (blocks && (blocks.last.length !== blockCount(t.df) || blocks.start.length !== blocks.last.length)) {
    throw new RangeError(`decodePostings: block tables of ${blocks.last.length} for ${t.df} postings`);
  }
  const { at } = readPostings(bucket, t.start, t.end, -1, t.df, docs, tfs, blocks);
  if (at !== t.end) throw new FormatError("invalid_object", `lexical bucket ${bucket.id}: postings of a term end at ${at}, expected ${t.end}`);
}

/**
 * Reads `count` postings from byte `start` (`prev`: the doc before them, -1 at a list's start) into docs and tfs,
 * each checked (documents ascending and below the bucket's `documents`, else 2^32; tf >= 1), recording each block's
 * start and last doc in `blocks` when given. Returns where it stopped and the last doc.
 */
function readPostings(
  bucket: LexicalBucket, start: number, end: number, prev: number, count: number, docs: Uint32Array, tfs: Uint32Array, blocks?: PostingBlocks,
): { at: number; doc: number } {
  const bytes = bucket.bytes, limit = bucket.documents ?? 2 ** 32;
  const pos = { i: start };
  let doc = prev;
  for (let n = 0; n < count; n++) {
    if (blocks && n % POSTING_BLOCK === 0) {
      if (n > 0) blocks.last[n / POSTING_BLOCK - 1] = doc;
      blocks.start[n / POSTING_BLOCK] = pos.i;
    }
    const gap = readVarint(bytes, pos, end);
    const next = doc < 0 ? gap : doc + gap;
    const tf = readVarint(bytes, pos, end);
    if ((doc >= 0 && gap === 0) || next >= limit || tf < 1) {
      throw new FormatError("invalid_object", `lexical bucket ${bucket.id}: posting (doc ${next}, tf ${tf}) after doc ${doc}; expected ascending docs in 0..${limit - 1}, tf >= 1`);
    }
    docs[n] = doc = next;
    tfs[n] = tf;
  }
  if (blocks && count > 0) blocks.last[blocks.last.length - 1] = doc;
  return { at: pos.i, doc };
}

/** Postings per block of a term's block table (PostingBlocks). */
export const POSTING_BLOCK = 64;

/** Blocks of POSTING_BLOCK postings (the last one shorter) in a list of `df`. */
export const blockCount = (df: number): number => Math.ceil(df / POSTING_BLOCK);

/**
 * Where each block of POSTING_BLOCK postings of one term starts in its bucket's bytes, and the last doc ordinal in
 * it: filled by decodePostings as it reads (and checks) the whole list once, then used to read single blocks
 * (decodeBlock) instead of the whole list. Made at query time, never stored: the format has no skip data.
 */
export interface PostingBlocks {
  /** Byte offset of each block's first posting. */
  start: Uint32Array;
  /** Doc ordinal of each block's last posting (ascending). */
  last: Uint32Array;
}

/** Empty block tables for a list of `df` postings, for decodePostings to fill. */
export function postingBlocks(df: number): PostingBlocks {
  const n = blockCount(df);
  return { start: new Uint32Array(n), last: new Uint32Array(n) };
}

/**
 * Decodes block `b` of `t` (its postings b * POSTING_BLOCK.. into docs and tfs from index 0) with the block table
 * decodePostings filled; returns how many. Checked as decodePostings checks: a table that does not fit the bytes
 * throws `invalid_object`.
 */
export function decodeBlock(bucket: LexicalBucket, t: LexicalTerm, blocks: PostingBlocks, b: number, docs: Uint32Array, tfs: Uint32Array): number {
  const count = Math.min(POSTING_BLOCK, t.df - b * POSTING_BLOCK);
  if (!(Number.isInteger(b) && b >= 0 && count > 0) || docs.length < count || tfs.length < count) throw new RangeError(`decodeBlock: block ${b} of a ${t.df}-posting list into arrays of ${Math.min(docs.length, tfs.length)}`);
  const start = blocks.start[b];
  const end = b + 1 < blocks.start.length ? blocks.start[b + 1] : t.end;
  // The table is this term's: as many blocks as its postings make, the first at its first byte, each within its bytes.
  if (blocks.last.length !== blockCount(t.df) || blocks.start.length !== blocks.last.length || blocks.start[0] !== t.start || !(start >= t.start && start < end && end <= t.end)) {
    throw new FormatError("invalid_object", `lexical bucket ${bucket.id}: a block table that is not this term's (block ${b} at ${start}..${end}, term at ${t.start}..${t.end})`);
  }
  const { at, doc } = readPostings(bucket, start, end, b === 0 ? -1 : blocks.last[b - 1], count, docs, tfs);
  if (at !== end || doc !== blocks.last[b]) throw new FormatError("invalid_object", `lexical bucket ${bucket.id}: block ${b} of a term does not match its table`);
  return count;
}

/** Calls `fn(doc ordinal, tf)` for each posting of `t` in `bucket` (decodePostings). Throws `invalid_object` on malformed bytes. */
export function forEachPosting(bucket: LexicalBucket, t: LexicalTerm, fn: (doc: number, tf: number) => void): void {
  const docs = new Uint32Array(t.df), tfs = new Uint32Array(t.df);
  decodePostings(bucket, t, docs, tfs);
  for (let n = 0; n < t.df; n++) fn(docs[n], tfs[n]);
}

/** Writes the doc-length object: one Lucene byte4 length per document. */
export function encodeLexicalNorms(lengths: ArrayLike<number>): Uint8Array {
  const total = LEX_HEADER_BYTES + lengths.length;
  const out = new Uint8Array(total);
  out.set(header(LEX_NORMS_MAGIC, lengths.length, NORM_BYTE4, 0, total), 0);
  for (let i = 0; i < lengths.length; i++) out[LEX_HEADER_BYTES + i] = lengthToByte(lengths[i]);
  return out;
}

/** Decodes the doc-length object: the encoded byte of each document. */
export function decodeLexicalNorms(bytes: Uint8Array): Uint8Array {
  checkPreamble("lexical norms", bytes, LEX_NORMS_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const count = dv.getUint32(12, true);
  const encoding = dv.getUint32(16, true);
  const total = dv.getUint32(24, true);
  if (encoding !== NORM_BYTE4) throw new FormatError("invalid_object", `lexical norms: expected encoding ${NORM_BYTE4}, got ${encoding}`);
  if (bytes.byteLength !== total || total !== LEX_HEADER_BYTES + count) {
    throw new FormatError("truncated", `lexical norms: expected ${LEX_HEADER_BYTES + count} bytes, got ${bytes.byteLength}`);
  }
  return bytes.subarray(LEX_HEADER_BYTES);
}
