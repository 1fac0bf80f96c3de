import {
  byteRangeOf, decodeDocRecord, DOC_HEADER_BYTES, docBlockIndexBytes, FormatError, objectKey, readDocBlockHeader,
  readDocBlockIndex, type Doc, type DocBlockIndex, type DocBlockRef,
} from "../../format";
import type { ByteCache } from "./byte-cache";
import { getBytes } from "./r2";
import type { LoadedIndex } from "./loaded-index";

/** The block holding a doc ordinal (blocks are sorted by `first`). */
function blockOf(blocks: DocBlockRef[], ordinal: number): DocBlockRef {
  let lo = 0, hi = blocks.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const b = blocks[mid];
    if (ordinal < b.first) hi = mid - 1;
    else if (ordinal >= b.first + b.count) lo = mid + 1;
    else return b;
  }
  throw new FormatError("invalid_manifest", `no doc block holds ordinal ${ordinal}`);
}

/** Header + offsets table of a block: two small range reads the first time, cached after. */
async function blockIndex(bucket: R2Bucket, cache: ByteCache, key: string): Promise<DocBlockIndex> {
  const hit = cache.get<DocBlockIndex>(key);
  if (hit) return hit;
  const head = await getBytes(bucket, key, { offset: 0, length: DOC_HEADER_BYTES });
  if (!head) throw new FormatError("truncated", `doc block ${key} is missing from R2`);
  const need = docBlockIndexBytes(readDocBlockHeader(head));
  const prefix = await getBytes(bucket, key, { offset: 0, length: need });
  if (!prefix) throw new FormatError("truncated", `doc block ${key} is missing from R2`);
  const index = readDocBlockIndex(prefix);
  cache.set(key, index, index.offsets.byteLength + 64);
  return index;
}

/**
 * Fetches documents by ordinal with R2 range reads: only their records are read, never a whole block.
 * (The block's sha256 covers the whole object; records are checked by the offsets CRC and JSON validation.)
 */
export async function fetchDocs(bucket: R2Bucket, cache: ByteCache, idx: LoadedIndex, ordinals: number[]): Promise<Doc[]> {
  return Promise.all(
    ordinals.map(async (ordinal) => {
      const block = blockOf(idx.manifest.docs.blocks, ordinal);
      const key = objectKey(idx.tenant, idx.index, block.path);
      const index = await blockIndex(bucket, cache, key);
      const range = byteRangeOf(index, ordinal);
      const bytes = await getBytes(bucket, key, range);
      if (!bytes || bytes.byteLength !== range.length) {
        throw new FormatError("truncated", `doc block ${key}: record of ordinal ${ordinal} could not be read`);
      }
      return decodeDocRecord(bytes);
    }),
  );
}
