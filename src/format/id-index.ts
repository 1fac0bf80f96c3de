// The id index: document id -> ordinal, for fetching one document by id without loading every id. Ids are hashed
// (FNV-1a 32 of their UTF-8 bytes, as BM25 terms) into `buckets` small objects; a reader fetches the one bucket of
// an id (checked against its sha256), then the document's record from its doc block. The manifest's `docs.ids`
// (since 2.1) lists the buckets.
//
// Bucket object, ID_HEADER_BYTES = 32, little-endian:
//   offset size field
//   0      4    magic "I3ID"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 header bytes (32)
//   12     4    u32 bucket id (id hash % bucket count)
//   16     4    u32 bucket count
//   20     4    u32 entries in this bucket
//   24     4    u32 total bytes of the object
//   28     4    u32 CRC-32 of bytes 0..27
// Then the entries, ids sorted by code unit: varint(id UTF-8 bytes) + bytes + varint(doc ordinal).
import * as z from "zod";
import { checkPreamble, needBytes, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { bucketOf, readVarint, writeVarint } from "./bm25.ts";
import { FormatError } from "./errors.ts";
import { objectRefOf } from "./objects.ts";

export const ID_BUCKET_MAGIC = "I3ID";
export const ID_HEADER_BYTES = 32;
/** Ids per bucket the offline writer aims at (a bucket of ids of 20 bytes is about 24 KB). */
export const IDS_PER_BUCKET = 1024;
const CRC_AT = 28;
const WHAT = "id bucket";

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The manifest's `docs.ids`: bucket i at index i (count = ids in it), ids hashed by fnv1a32 of their UTF-8. */
export const IdIndexSchema = z.object({
  hash: z.literal("fnv1a32"),
  buckets: z.array(objectRefOf("ids", { counted: true }), { error: "a non-empty array" }).min(1, { error: "a non-empty array" }),
});
export type IdIndex = z.output<typeof IdIndexSchema>;

/** A decoded bucket: id -> doc ordinal. */
export interface IdBucket {
  id: number;
  buckets: number;
  ordinals: Map<string, number>;
}

/** Buckets for `documents` ids: about IDS_PER_BUCKET each, at least 1. */
export function idBucketCount(documents: number): number {
  return Math.max(1, Math.ceil(documents / IDS_PER_BUCKET));
}

/** The bucket of a document id. */
export function idBucketOf(docId: string, buckets: number): number {
  return bucketOf(docId, buckets);
}

/**
 * Writes bucket `id` of `buckets` holding `entries` (any order; sorted here). Each id must hash to `id`.
 *
 * @example
 * const bytes = encodeIdBucket(0, 1, [["doc-1", 0], ["doc-2", 1]]);
 */
export function encodeIdBucket(id: number, buckets: number, entries: Array<[string, number]>): Uint8Array {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const body: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const [docId, ordinal] = sorted[i];
    if (i > 0 && sorted[i - 1][0] === docId) throw new RangeError(`id bucket: id ${JSON.stringify(docId)} twice`);
    if (idBucketOf(docId, buckets) !== id) throw new RangeError(`id bucket ${id}: id ${JSON.stringify(docId)} belongs to bucket ${idBucketOf(docId, buckets)}`);
    const b = enc.encode(docId);
    writeVarint(body, b.length);
    for (const x of b) body.push(x);
    writeVarint(body, ordinal);
  }
  const total = ID_HEADER_BYTES + body.length;
  const out = new Uint8Array(total);
  writePreamble(out, ID_BUCKET_MAGIC);
  const dv = viewOf(out);
  dv.setUint32(8, ID_HEADER_BYTES, true);
  dv.setUint32(12, id, true);
  dv.setUint32(16, buckets, true);
  dv.setUint32(20, sorted.length, true);
  dv.setUint32(24, total, true);
  writeHeaderCrc(out, CRC_AT);
  out.set(body, ID_HEADER_BYTES);
  return out;
}

/**
 * Decodes a bucket; `documents` bounds the ordinals (a larger one is `invalid_object`, as is any malformed byte).
 *
 * @example
 * const ordinal = decodeIdBucket(bytes, manifest.corpus.documents).ordinals.get("doc-1");
 */
export function decodeIdBucket(bytes: Uint8Array, documents: number): IdBucket {
  checkPreamble(WHAT, bytes, ID_BUCKET_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const id = dv.getUint32(12, true);
  const buckets = dv.getUint32(16, true);
  const count = dv.getUint32(20, true);
  const total = dv.getUint32(24, true);
  needBytes(WHAT, bytes, total);
  if (bytes.byteLength !== total) throw new FormatError("invalid_object", `${WHAT}: header says ${total} bytes, object has ${bytes.byteLength}`);
  if (buckets === 0 || id >= buckets) throw new FormatError("invalid_object", `${WHAT}: bucket ${id} of ${buckets}`);
  const pos = { i: dv.getUint32(8, true) };
  const ordinals = new Map<string, number>();
  for (let n = 0; n < count; n++) {
    const len = readVarint(bytes, pos, total);
    if (pos.i + len > total) throw new FormatError("invalid_object", `${WHAT}: id runs past the end`);
    let docId: string;
    try {
      docId = dec.decode(bytes.subarray(pos.i, pos.i + len));
    } catch {
      throw new FormatError("invalid_object", `${WHAT}: id is not UTF-8`);
    }
    pos.i += len;
    const ordinal = readVarint(bytes, pos, total);
    if (ordinal >= documents) throw new FormatError("invalid_object", `${WHAT}: ordinal ${ordinal} is not below ${documents} documents`);
    ordinals.set(docId, ordinal);
  }
  if (pos.i !== total) throw new FormatError("invalid_object", `${WHAT}: entries end at ${pos.i}, object at ${total}`);
  return { id, buckets, ordinals };
}
