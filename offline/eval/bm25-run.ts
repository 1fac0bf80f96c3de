// `i3 eval --model bm25`: the product's BM25 without a model. The corpus is written as doc blocks into a temporary
// directory, indexed there by the build's writer (offline/build/bm25.ts: src/text/analyzer.ts, the BM25 format) and
// searched with the worker's reader (src/search/bm25.ts), so the numbers are those of an index's lexical mode
// (without its dense fallback for queries that match no term).
import { createObjectStore, type ObjectStore } from "../build/object-store.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DOCS_PER_BLOCK, type DocBlockRef } from "../../src/format/index.ts";
import { searchLexical } from "../../src/search/bm25.ts";
import { writeLexical } from "../build/bm25.ts";
import { readCorpus } from "../build/corpus.ts";
import { createDocBlockWriter } from "../build/writers.ts";
import { fileLexicalReader } from "./index-search.ts";
import type { Run } from "./metrics.ts";

export interface Bm25RunOptions {
  k: number;
  k1: number;
  b: number;
  log: (m: string) => void;
}

/**
 * Top `k` documents by BM25 for each query; `docs` is the number of documents indexed (empty ones are skipped).
 *
 * @example
 * const { run } = await bm25Run("data/scifact/corpus.jsonl", queries, { k: 1000, k1: 0.9, b: 0.4, log: console.error });
 */
export async function bm25Run(corpusFile: string, queries: Array<{ id: string; text: string }>, o: Bm25RunOptions): Promise<{ run: Run; docs: number }> {
  const dir = await mkdtemp(path.join(tmpdir(), "i3-eval-bm25-"));
  try {
    const t0 = performance.now();
    const store = createObjectStore(dir);
    const { ids, blocks } = await writeDocBlocks(corpusFile, store, o.log);
    const section = await writeLexical(store, blocks, { k1: o.k1, b: o.b });
    o.log(`bm25: ${ids.length} docs, ${section.terms} terms indexed in ${((performance.now() - t0) / 1000).toFixed(1)} s (k1 ${o.k1}, b ${o.b})`);
    const reader = fileLexicalReader((ref) => store.read(ref), section);
    const run: Run = new Map();
    for (const q of queries) run.set(q.id, (await searchLexical(reader, q.text, o.k)).hits.map((h) => ({ id: ids[h.ordinal], score: h.score })));
    return { run, docs: ids.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeDocBlocks(corpusFile: string, store: ObjectStore, log: (m: string) => void): Promise<{ ids: string[]; blocks: DocBlockRef[] }> {
  const ids: string[] = [];
  const blocks: DocBlockRef[] = [];
  let skipped = 0;
  const writer = createDocBlockWriter({ store, docsPerBlock: DOCS_PER_BLOCK, onBlock: (b) => void blocks.push(b) });
  for await (const { doc } of readCorpus(corpusFile, { skipEmpty: true, onSkip: () => skipped++ })) {
    ids.push(doc.id);
    await writer.add(doc);
  }
  await writer.finish();
  if (skipped) log(`bm25: ${skipped} empty documents skipped`);
  return { ids, blocks };
}
