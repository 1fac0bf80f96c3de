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
 * Header + offsets table of a block, colo-cached, kept in the isolate; the documents of one query in the same block
 * (and concurrent queries) share its read. Read as the block's first page (64 KB, or the whole block when smaller: one
 * range read that also holds the first records, kept in `pages` for the request that read it), or as the prefix the
 * manifest's count implies where that is longer than a page; a second read when the header says the prefix is longer.
 * The header must match the manifest's reference (ordinals, count, size) before its u32 prefix length is trusted.
 */
async function blockIndex(s: Storage, cache: ByteCache, key: string, block: DocBlockRef, pages: RequestPages): Promise<DocBlockIndex> {
  const index = await cachedLoad(cache, key, s, () => readBlockIndex(s, cache, key, block, pages));
  checkDocBlock(index, block); // another version may name the same block at other ordinals
  return index;
}

async function readBlockIndex(s: Storage, cache: ByteCache, key: string, block: DocBlockRef, pages: RequestPages): Promise<DocBlockIndex> {
  const expected = Math.max(DOC_HEADER_BYTES, expectedDocBlockPrefix(block.count));
  const page0 = pageRange(block, 0);
  const guess = expected <= page0.length ? page0 : { offset: 0, length: Math.min(expected, block.bytes) };
  const head = await getImmutable(s, key, block.bytes, guess);
  if (!head) throw new FormatError("truncated", `doc block ${key} is missing from R2`);
  const header = readDocBlockHeader(head);
  checkDocBlock(header, block);
  const need = docBlockIndexBytes(header);
  const prefix = need <= head.byteLength ? head : await getImmutable(s, key, block.bytes, { offset: 0, length: need });
  if (!prefix) throw new FormatError("truncated", `doc block ${key} is missing from R2`);
  const index = readDocBlockIndex(prefix);
  checkDocBlock(index, block);
  cache.set(key, index, index.offsets.byteLength + 64, undefined, { protect: true }); // every query needs a few: not pushed out by buckets
  if (guess === page0 && head.byteLength === page0.length) pages.set(0, head);
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

/** Pages of one doc block a request has read and does not keep, by page number: its other records come from them. */
type RequestPages = Map<number, Uint8Array>;

/** The isolate cache's key of page `p` of the doc block at `key`. */
const pageKey = (key: string, p: number) => `${key}@page${p}`;

/** The byte range of page `p` of a block (the last page is shorter). */
function pageRange(block: DocBlockRef, p: number): { offset: number; length: number } {
  const offset = p * DOC_PAGE_BYTES;
  return { offset, length: Math.min(block.bytes, offset + DOC_PAGE_BYTES) - offset };
}

/** The pages of a doc block that hold `range`. */
function pagesOf(range: { offset: number; length: number }): number[] {
  const first = Math.floor(range.offset / DOC_PAGE_BYTES);
  const last = Math.floor((range.offset + range.length - 1) / DOC_PAGE_BYTES);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** The page wholly holding `range`; undefined when it spans two. */
function onePage(range: { offset: number; length: number }): number | undefined {
  const [p, ...more] = pagesOf(range);
  return more.length === 0 ? p : undefined;
}

/** The bytes `range` of a doc block from pages at hand (`page`); null when one is missing. */
function fromPages(page: (p: number) => Uint8Array | undefined, range: { offset: number; length: number }): Uint8Array | null {
  const out = new Uint8Array(range.length);
  for (const p of pagesOf(range)) {
    const bytes = page(p);
    if (!bytes) return null;
    const base = p * DOC_PAGE_BYTES;
    const start = Math.max(range.offset, base), end = Math.min(range.offset + range.length, base + bytes.byteLength);
    out.set(bytes.subarray(start - base, end - base), start - range.offset);
  }
  return out;
}

/** Page `p` of a block: one range read (colo cache, else R2; every isolate asks for the same aligned ranges, so the colo serves them). */
async function readPage(s: Storage, key: string, block: DocBlockRef, p: number): Promise<Uint8Array | null> {
  const range = pageRange(block, p);
  const bytes = await getImmutable(s, key, block.bytes, range);
  return bytes && bytes.byteLength === range.length ? bytes : null;
}

/**
 * Reads the pages holding `range` that the isolate lacks and keeps them. Run after the request's own reads;
 * concurrent requests share a page's read (cachedLoad).
 */
function loadPages(s: Storage, cache: ByteCache, key: string, block: DocBlockRef, range: { offset: number; length: number }): Promise<unknown> {
  return Promise.all(pagesOf(range).map((p) => cachedLoad(cache, pageKey(key, p), s, async () => {
    const bytes = await readPage(s, key, block, p);
    if (bytes) cache.set(pageKey(key, p), bytes, bytes.byteLength + 64);
    return bytes;
  })));
}

/** The pages worth one read each for records not at hand: those wholly holding at least two of them (each record once). */
function sharedPages(ranges: Array<{ offset: number; length: number }>): Set<number> {
  const inPage = new Map<number, number>();
  for (const r of ranges) {
    const p = onePage(r);
    if (p !== undefined) inPage.set(p, (inPage.get(p) ?? 0) + 1);
  }
  return new Set([...inPage].filter(([, n]) => n >= 2).map(([p]) => p));
}

/**
 * The documents of one block (`wanted`: the block's ordinals, written to `out` at their positions): from the
 * isolate (the documents, or the pages of a paged index), else from pages this request read (the block's first page,
 * read for its index, and any page holding two or more of the records left), else each record by range read. For a
 * paged index, the pages of records read alone are read after the request for the requests that follow (`later`).
 */
async function fetchBlockDocs(
  s: Storage, cache: ByteCache, idx: LoadedIndex, block: DocBlockRef, wanted: Array<{ at: number; ordinal: number }>,
  out: Doc[], later: Array<() => Promise<unknown>>,
): Promise<void> {
  const key = objectKey(idx.tenant, idx.index, block.path);
  const byPage = paged(cache, idx);
  const left = byPage ? wanted : wanted.filter(({ at, ordinal }) => {
    const doc = cache.get<Doc>(`${key}#${ordinal}`);
    if (doc) out[at] = doc;
    return !doc;
  });
  if (left.length === 0) return;
  const pages: RequestPages = new Map();
  const index = await blockIndex(s, cache, key, block, pages);
  const page = (p: number) => pages.get(p) ?? (byPage ? cache.get<Uint8Array>(pageKey(key, p)) : undefined);
  const ranges = left.map(({ ordinal }) => byteRangeOf(index, ordinal));
  const bytes = ranges.map((r) => fromPages(page, r));
  // Not paged: a page holding two records left costs one read instead of two (kept for this request only: the
  // index does not fit), read beside the records read alone.
  const shared = byPage ? new Map<number, Promise<Uint8Array | null>>() : new Map([...sharedPages(ranges.filter((_, j) => !bytes[j]))].map((p) => [p, readPage(s, key, block, p)] as const));
  await Promise.all(left.map(async ({ at, ordinal }, j) => {
    const range = ranges[j];
    let b = bytes[j];
    const p = onePage(range);
    const inShared = !b && p !== undefined ? shared.get(p) : undefined;
    if (inShared) {
      const read = await inShared;
      if (read) pages.set(p!, read);
      b = fromPages(page, range);
    }
    if (!b) {
      b = await getImmutable(s, key, block.bytes, range);
      if (byPage) later.push(() => loadPages(s, cache, key, block, range));
    }
    if (!b || b.byteLength !== range.length) {
      throw new FormatError("truncated", `doc block ${key}: record of ordinal ${ordinal} could not be read`);
    }
    const doc = decodeDocRecord(b);
    // A paged index keeps the bytes (its pages), not a second, decoded copy: decoding a record again costs microseconds.
    if (!byPage) cache.set(`${key}#${ordinal}`, doc, 2 * range.length + 64);
    out[at] = doc;
  }));
  // A paged index keeps the first page its index was read with.
  if (byPage) for (const [p, b] of pages) if (!cache.get(pageKey(key, p))) cache.set(pageKey(key, p), b, b.byteLength + 64);
}

/**
 * Fetches documents by ordinal, in order: their records, or the pages that hold them where a page serves two or
 * more, never a whole block; an index whose documents fit the isolate also gets the 64 KB pages that hold them, after
 * the records (for the requests that follow, which then read nothing). The request's storage keeps at most 6 reads
 * waiting at once. (The block's sha256 covers the whole object; a record is checked by the offsets CRC and its JSON
 * validation.) Warm documents cost no read at all: the isolate keeps them (or a paged index's pages), the colo cache
 * keeps their bytes for the isolates that come after. Each index is judged alone: many tenants' paged indexes share
 * the isolate cache by least recent use.
 */
export async function fetchDocs(s: Storage, cache: ByteCache, idx: LoadedIndex, ordinals: number[]): Promise<Doc[]> {
  const later: Array<() => Promise<unknown>> = [];
  const out: Doc[] = new Array(ordinals.length);
  const byBlock = new Map<DocBlockRef, Array<{ at: number; ordinal: number }>>();
  ordinals.forEach((versionOrdinal, at) => {
    const { blocks, local: ordinal } = segmentOf(idx, versionOrdinal);
    const block = blockOf(blocks, ordinal);
    const wanted = byBlock.get(block);
    if (wanted) wanted.push({ at, ordinal });
    else byBlock.set(block, [{ at, ordinal }]);
  });
  await Promise.all([...byBlock].map(([block, wanted]) => fetchBlockDocs(s, cache, idx, block, wanted, out, later)));
  // Off this request's path: its own records are read; the pages go on while it answers (under its waitUntil).
  for (const load of later) s.defer(load());
  return out;
}
