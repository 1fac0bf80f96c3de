// The static query model ("I3SQ"): a query encoder with no transformer. One row of `dims` int8 values (with a
// float32 scale) and one float32 pooling weight per vocabulary id; a query vector is the weighted sum of its tokens'
// rows, L2-normalised (src/search/static-encoder.ts). Written by the Python exporter (offline/train/static_export.py)
// alone; this module reads it.
//
// Header, STATIC_QUERY_HEADER_BYTES = 48, little-endian:
//   offset size field
//   0      4    magic "I3SQ"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 dims
//   12     4    u32 vocab (rows; token ids 0..vocab-1)
//   16     4    u32 maxTokens (query tokens read; longer queries are truncated)
//   20     4    u32 table encoding: 1 = int8 rows, each with a float32 scale (value = scale * int8)
//   24     4    u32 offset of the pooling weights: float32 [vocab] (= 48)
//   28     4    u32 offset of the row scales: float32 [vocab] (= 48 + 4 * vocab)
//   32     4    u32 offset of the table: int8 [vocab * dims], row-major (= 48 + 8 * vocab)
//   36     4    u32 total bytes of the object (= table offset + vocab * dims)
//   40     4    u32 CRC-32 of bytes 48..total (the body)
//   44     4    u32 CRC-32 of bytes 0..43
import { checkPreamble, needBytes, viewOf } from "./binary.ts";
import { crc32 } from "./checksum.ts";
import { FormatError } from "./errors.ts";

export const STATIC_QUERY_MAGIC = "I3SQ";
export const STATIC_QUERY_HEADER_BYTES = 48;
/** Table encodings a reader of this build knows. */
export const STATIC_TABLE_INT8 = 1;
const CRC_AT = 44;
const WHAT = "static query model";

/** A decoded static query model (views into the object's bytes where aligned). */
export interface StaticQueryModel {
  dims: number;
  vocab: number;
  maxTokens: number;
  /** Pooling weight of each token id. */
  weights: Float32Array;
  /** Scale of each row of `table`. */
  scales: Float32Array;
  /** int8 [vocab * dims]: row t is token t's vector divided by scales[t]. */
  table: Int8Array;
}

/**
 * Decodes a static query model. Throws FormatError (`bad_magic`, `unsupported_version`, `checksum_mismatch`,
 * `truncated`, `invalid_object`) on anything that is not exactly the layout above. `{ verified: true }`: the bytes
 * were checked against their sha256 (the worker's reads), so the body's CRC-32, which would only say so again
 * (about 10 ms over 4 MB in a new isolate), is not computed; the header's is.
 *
 * @example
 * const model = decodeStaticQuery(await storage.read(manifest.model.static));
 */
export function decodeStaticQuery(bytes: Uint8Array, opts: { verified?: boolean } = {}): StaticQueryModel {
  checkPreamble(WHAT, bytes, STATIC_QUERY_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const [dims, vocab, maxTokens, encoding, weightsAt, scalesAt, tableAt, total, bodyCrc] = [8, 12, 16, 20, 24, 28, 32, 36, 40].map((o) => dv.getUint32(o, true));
  if (encoding !== STATIC_TABLE_INT8) {
    throw new FormatError("invalid_object", `${WHAT}: table encoding expected ${STATIC_TABLE_INT8} (int8 rows), got ${encoding}`);
  }
  const want = { weightsAt: STATIC_QUERY_HEADER_BYTES, scalesAt: STATIC_QUERY_HEADER_BYTES + 4 * vocab, tableAt: STATIC_QUERY_HEADER_BYTES + 8 * vocab };
  const size = want.tableAt + vocab * dims;
  if (dims < 1 || dims > 0xffff || vocab < 1 || maxTokens < 1 || weightsAt !== want.weightsAt || scalesAt !== want.scalesAt || tableAt !== want.tableAt || total !== size) {
    throw new FormatError(
      "invalid_object",
      `${WHAT}: header (dims ${dims}, vocab ${vocab}, maxTokens ${maxTokens}, sections at ${weightsAt}/${scalesAt}/${tableAt}, total ${total}) is not the layout of ${vocab} rows of ${dims} dims`,
    );
  }
  needBytes(WHAT, bytes, total);
  if (bytes.byteLength !== total) throw new FormatError("invalid_object", `${WHAT}: expected ${total} bytes, got ${bytes.byteLength}`);
  const actual = opts.verified ? bodyCrc : crc32(bytes.subarray(STATIC_QUERY_HEADER_BYTES, total));
  if (actual !== bodyCrc) throw new FormatError("checksum_mismatch", `${WHAT}: body crc32 expected ${bodyCrc}, got ${actual}`);
  const weights = floats(bytes, weightsAt, vocab);
  const scales = floats(bytes, scalesAt, vocab);
  for (let t = 0; t < vocab; t++) {
    if (!Number.isFinite(weights[t]) || !Number.isFinite(scales[t])) {
      throw new FormatError("invalid_object", `${WHAT}: weight and scale of token ${t} must be finite, got ${weights[t]} and ${scales[t]}`);
    }
  }
  const table = new Int8Array(bytes.buffer, bytes.byteOffset + tableAt, vocab * dims);
  return { dims, vocab, maxTokens, weights, scales, table };
}

/** `n` float32 values at `at` (a view when aligned, else a copy). */
function floats(bytes: Uint8Array, at: number, n: number): Float32Array {
  const start = bytes.byteOffset + at;
  if (start % 4 === 0) return new Float32Array(bytes.buffer, start, n);
  return new Float32Array(bytes.slice(at, at + 4 * n).buffer);
}
