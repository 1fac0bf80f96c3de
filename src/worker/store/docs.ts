import {
  byteRangeOf, checkDocBlock, decodeDocRecord, DOC_HEADER_BYTES, docBlockIndexBytes, expectedDocBlockPrefix, FormatError, objectKey,
  readDocBlockHeader, readDocBlockIndex, type Doc, type DocBlockIndex, type DocBlockRef,
} from "../../format";
import type { ByteCache } from "./byte-cache";
import { getImmutable } from "./r2";
import type { Storage } from "./storage";
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

/**
 * Header + offsets table of a block: one small range read the first time (the prefix the manifest's count implies;
 * a second when the header says the prefix is longer), colo-cached, kept in the isolate. The header must match the
 * manifest's reference (ordinals, count, size) before its u32 prefix length is trusted.
 */
async function blockIndex(s: Storage, cache: ByteCache, key: string, block: DocBlockRef): Promise<DocBlockIndex> {
  const hit = cache.get<DocBlockIndex>(key);
  if (hit) {
    checkDocBlock(hit, block); // another version may name the same block at other ordinals
    return hit;
  }
  const guess = Math.min(Math.max(DOC_HEADER_BYTES, expectedDocBlockPrefix(block.count)), block.bytes);
  const head = await getImmutable(s, key, block.bytes, { offset: 0, length: guess });
  if (!head) throw new FormatError("truncated", `doc block ${key} is missing from R2`);
  const header = readDocBlockHeader(head);
  checkDocBlock(header, block);
  const need = docBlockIndexBytes(header);
  const prefix = need <= head.byteLength ? head : await getImmutable(s, key, block.bytes, { offset: 0, length: need });
  if (!prefix) throw new FormatError("truncated", `doc block ${key} is missing from R2`);
  const index = readDocBlockIndex(prefix);
  checkDocBlock(index, block);
  cache.set(key, index, index.offsets.byteLength + 64);
  return index;
}

/**
 * The doc blocks holding a version ordinal, and the ordinal within them: the base's, or (past the base's documents)
 * the delta's, which number their documents from 0.
 */
function segmentOf(idx: LoadedIndex, ordinal: number): { blocks: DocBlockRef[]; local: number } {
  const d = idx.manifest.delta;
  return d && ordinal >= d.first ? { blocks: d.docs.blocks, local: ordinal - d.first } : { blocks: idx.manifest.docs.blocks, local: ordinal };
}

/** One document by ordinal: from the isolate, else its record by range read (colo cache, else R2). */
async function fetchDoc(s: Storage, cache: ByteCache, idx: LoadedIndex, versionOrdinal: number): Promise<Doc> {
  const { blocks, local: ordinal } = segmentOf(idx, versionOrdinal);
  const block = blockOf(blocks, ordinal);
  const key = objectKey(idx.tenant, idx.index, block.path);
  const cached = cache.get<Doc>(`${key}#${ordinal}`);
  if (cached) return cached;
  const index = await blockIndex(s, cache, key, block);
  const range = byteRangeOf(index, ordinal);
  const bytes = await getImmutable(s, key, block.bytes, range);
  if (!bytes || bytes.byteLength !== range.length) {
    throw new FormatError("truncated", `doc block ${key}: record of ordinal ${ordinal} could not be read`);
  }
  const doc = decodeDocRecord(bytes);
  cache.set(`${key}#${ordinal}`, doc, 2 * range.length + 64);
  return doc;
}

/**
 * Fetches documents by ordinal, in order: only their records are read, never a whole block, and the request's
 * storage keeps at most 6 reads waiting at once. (The block's sha256 covers the whole object; a record is checked by
 * the offsets CRC and its JSON validation.) Warm documents cost no read at all: the isolate keeps them, the colo cache keeps their
 * bytes for the isolates that come after.
 */
export async function fetchDocs(s: Storage, cache: ByteCache, idx: LoadedIndex, ordinals: number[]): Promise<Doc[]> {
  return Promise.all(ordinals.map((ordinal) => fetchDoc(s, cache, idx, ordinal)));
}
