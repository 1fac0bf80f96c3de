// The documents of each partition of a partitioned index (manifest 2.1 `fields.partitionDocs`): where a filtered
// query finds the few documents that match, so it can scan exactly the partitions that hold them instead of all.
// u32 per (partition, document) pair: about 4 bytes a passage.
//
// Header, PARTITION_DOCS_HEADER_BYTES = 32, little-endian:
//   offset size field
//   0      4    magic "I3PD"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 header bytes (32)
//   12     4    u32 partitions
//   16     4    u32 entries (pairs)
//   20     4    u32 documents (every ordinal is below it)
//   24     4    u32 total bytes of the object
//   28     4    u32 CRC-32 of bytes 0..27
// Then partitions + 1 u32 offsets into the entries; then the entries: each partition's doc ordinals, strictly
// ascending.
import { checkPreamble, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { FormatError } from "./errors.ts";

export const PARTITION_DOCS_MAGIC = "I3PD";
export const PARTITION_DOCS_HEADER_BYTES = 32;
const CRC_AT = 28;
const WHAT = "partition documents";

/** Partition p holds documents `docs[offsets[p] .. offsets[p + 1])`, ascending. */
export interface PartitionDocs {
  documents: number;
  offsets: Uint32Array;
  docs: Uint32Array;
}

/**
 * Writes the documents of each partition (each list ascending, every ordinal below `documents`).
 *
 * @example
 * const bytes = encodePartitionDocs([[0, 3], [1, 2, 3]], 4);
 */
export function encodePartitionDocs(lists: readonly ArrayLike<number>[], documents: number): Uint8Array {
  const entries = lists.reduce((n, l) => n + l.length, 0);
  const total = PARTITION_DOCS_HEADER_BYTES + 4 * (lists.length + 1 + entries);
  const out = new Uint8Array(total);
  writePreamble(out, PARTITION_DOCS_MAGIC);
  const dv = viewOf(out);
  dv.setUint32(8, PARTITION_DOCS_HEADER_BYTES, true);
  dv.setUint32(12, lists.length, true);
  dv.setUint32(16, entries, true);
  dv.setUint32(20, documents, true);
  dv.setUint32(24, total, true);
  writeHeaderCrc(out, CRC_AT);
  const body = new Uint32Array(out.buffer, PARTITION_DOCS_HEADER_BYTES, lists.length + 1 + entries);
  let at = lists.length + 1;
  lists.forEach((l, p) => {
    body[p] = at - lists.length - 1;
    for (let i = 0; i < l.length; i++) {
      if (l[i] >= documents || (i > 0 && l[i] <= l[i - 1])) throw new RangeError(`partition ${p}: ordinals must ascend below ${documents}`);
      body[at++] = l[i];
    }
  });
  body[lists.length] = entries;
  return out;
}

/** Decodes and checks the object; FormatError on any inconsistency. */
export function decodePartitionDocs(bytes: Uint8Array): PartitionDocs {
  checkPreamble(WHAT, bytes, PARTITION_DOCS_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const partitions = dv.getUint32(12, true);
  const entries = dv.getUint32(16, true);
  const documents = dv.getUint32(20, true);
  const total = dv.getUint32(24, true);
  const want = PARTITION_DOCS_HEADER_BYTES + 4 * (partitions + 1 + entries);
  if (dv.getUint32(8, true) !== PARTITION_DOCS_HEADER_BYTES || total !== want || bytes.byteLength !== total) {
    throw new FormatError("truncated", `${WHAT}: expected ${want} bytes, header says ${total}, object has ${bytes.byteLength}`);
  }
  const body = new Uint32Array(bytes.slice(PARTITION_DOCS_HEADER_BYTES).buffer);
  const offsets = body.subarray(0, partitions + 1);
  const docs = body.subarray(partitions + 1);
  if (offsets[0] !== 0 || offsets[partitions] !== entries) throw bad(`offsets span ${offsets[0]}..${offsets[partitions]}, expected 0..${entries}`);
  for (let p = 0; p < partitions; p++) {
    if (offsets[p + 1] < offsets[p]) throw bad(`offset ${p + 1} below offset ${p}`);
    for (let i = offsets[p]; i < offsets[p + 1]; i++) {
      if (docs[i] >= documents || (i > offsets[p] && docs[i] <= docs[i - 1])) throw bad(`partition ${p}: ordinals not ascending below ${documents}`);
    }
  }
  return { documents, offsets, docs };
}

function bad(msg: string): FormatError {
  return new FormatError("invalid_object", `${WHAT}: ${msg}`);
}
