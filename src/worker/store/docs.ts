import {
  byteRangeOf, checkDocBlock, decodeDocRecord, DOC_HEADER_BYTES, docBlockIndexBytes, expectedDocBlockPrefix, FormatError, objectKey,
  readDocBlockHeader, readDocBlockIndex, type Doc, type DocBlockIndex, type DocBlockRef,
} from "../../format";
import { cachedLoad, type ByteCache } from "./byte-cache";
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
 * a second when the header says the prefix is longer), colo-cached, kept in the isolate; the documents of one query
 * in the same block (and concurrent queries) share that read. The header must match the manifest's reference
 * (ordinals, count, size) before its u32 prefix length is trusted.
 */
async function blockIndex(s: Storage, cache: ByteCache, key: string, block: DocBlockRef): Promise<DocBlockIndex> {
  const index = await cachedLoad(cache, key, s, () => readBlockIndex(s, cache, key, block));
  checkDocBlock(index, block); // another version may name the same block at other ordinals
  return index;
}

async function readBlockIndex(s: Storage, cache: ByteCache, key: string, block: DocBlockRef): Promise<DocBlockIndex> {
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

/** Bytes of a doc-block page: indexes whose documents fit the isolate keep them by page. */
export const DOC_PAGE_BYTES = 64 * 1024;
/**
 * The share of the isolate cache an index's documents may take and still be kept by page (and so stay resident):
 * 12.8 MB of the 32 MB at the default budget, which leaves room for one query model (counted at 14 MB) and the BM25
 * buckets beside them, so the pages do not churn against what every query needs.
 */
const PAGED_SHARE = 0.4;

/** Doc bytes of each loaded version (its blocks and its delta's), computed once. */
const docBytes = new WeakMap<LoadedIndex, number>();

/**
 * Whether the index's documents are kept by page: when all of them fit PAGED_SHARE of the isolate cache, so that
 * after enough queries every page is resident and a query reads no document at all. Otherwise exact records only:
 * pages of a corpus that cannot stay would only evict what can.
 */
function paged(cache: ByteCache, idx: LoadedIndex): boolean {
  let bytes = docBytes.get(idx);
  if (bytes === undefined) {
    const blocks = [...idx.manifest.docs.blocks, ...(idx.manifest.delta?.docs.blocks ?? [])];
    docBytes.set(idx, (bytes = blocks.reduce((n, b) => n + b.bytes, 0)));
  }
  return bytes <= PAGED_SHARE * cache.budget;
}

/** The pages of a doc block that hold `range`. */
function pagesOf(range: { offset: number; length: number }): number[] {
  const first = Math.floor(range.offset / DOC_PAGE_BYTES);
  const last = Math.floor((range.offset + range.length - 1) / DOC_PAGE_BYTES);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** The bytes `range` of a doc block from the pages the isolate holds; null when one is missing. */
function fromPages(cache: ByteCache, key: string, range: { offset: number; length: number }): Uint8Array | null {
  const pages = pagesOf(range);
  const out = new Uint8Array(range.length);
  for (const p of pages) {
    const page = cache.get<Uint8Array>(`${key}@page${p}`);
    if (!page) return null;
    const base = p * DOC_PAGE_BYTES;
    const start = Math.max(range.offset, base), end = Math.min(range.offset + range.length, base + page.byteLength);
    out.set(page.subarray(start - base, end - base), start - range.offset);
  }
  return out;
}

/**
 * Reads the pages holding `range` that the isolate lacks (one range read each: colo cache, else R2; every isolate
 * asks for the same aligned ranges, so the colo serves them) and keeps them. Run after the request's own reads;
 * concurrent requests share a page's read (cachedLoad).
 */
function loadPages(s: Storage, cache: ByteCache, key: string, block: DocBlockRef, range: { offset: number; length: number }): Promise<unknown> {
  return Promise.all(pagesOf(range).map((p) => {
    const pageKey = `${key}@page${p}`;
    const offset = p * DOC_PAGE_BYTES;
    const length = Math.min(block.bytes, offset + DOC_PAGE_BYTES) - offset;
    return cachedLoad(cache, pageKey, s, async () => {
      const bytes = await getImmutable(s, key, block.bytes, { offset, length });
      if (bytes && bytes.byteLength === length) cache.set(pageKey, bytes, length + 64);
      return bytes;
    });
  }));
}

/**
 * One document by ordinal: from the isolate (the document, or the pages of a paged index), else its record by range
 * read (colo cache, else R2); for a paged index, the record's pages are then read for later requests (`later`).
 */
async function fetchDoc(s: Storage, cache: ByteCache, idx: LoadedIndex, versionOrdinal: number, later: Array<() => Promise<unknown>>): Promise<Doc> {
  const { blocks, local: ordinal } = segmentOf(idx, versionOrdinal);
  const block = blockOf(blocks, ordinal);
  const key = objectKey(idx.tenant, idx.index, block.path);
  const cached = cache.get<Doc>(`${key}#${ordinal}`);
  if (cached) return cached;
  const index = await blockIndex(s, cache, key, block);
  const range = byteRangeOf(index, ordinal);
  const byPage = paged(cache, idx);
  let bytes = byPage ? fromPages(cache, key, range) : null;
  if (!bytes) {
    bytes = await getImmutable(s, key, block.bytes, range);
    if (byPage) later.push(() => loadPages(s, cache, key, block, range));
  }
  if (!bytes || bytes.byteLength !== range.length) {
    throw new FormatError("truncated", `doc block ${key}: record of ordinal ${ordinal} could not be read`);
  }
  const doc = decodeDocRecord(bytes);
  // A paged index keeps the bytes (its pages), not a second, decoded copy: decoding a record again costs microseconds.
  if (!byPage) cache.set(`${key}#${ordinal}`, doc, 2 * range.length + 64);
  return doc;
}

/**
 * Fetches documents by ordinal, in order: their records, never a whole block; an index whose documents fit the
 * isolate also gets the 64 KB pages that hold them, after the records (for the requests that follow, which then read
 * nothing). The request's storage keeps at most 6 reads waiting at once. (The block's sha256 covers the whole object;
 * a record is checked by the offsets CRC and its JSON validation.) Warm documents cost no read at all: the isolate
 * keeps them (or a paged index's pages), the colo cache keeps their bytes for the isolates that come after. Each
 * index is judged alone: many tenants' paged indexes share the isolate cache by least recent use.
 */
export async function fetchDocs(s: Storage, cache: ByteCache, idx: LoadedIndex, ordinals: number[]): Promise<Doc[]> {
  const later: Array<() => Promise<unknown>> = [];
  const docs = await Promise.all(ordinals.map((ordinal) => fetchDoc(s, cache, idx, ordinal, later)));
  // Off this request's path: its own records are read; the pages go on while it answers (under its waitUntil).
  for (const load of later) s.defer(load());
  return docs;
}
