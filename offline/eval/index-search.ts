/**
 * `--index <build dir>`: search a BUILT index offline with exactly the worker's code: the index's own query model
 * (onnxruntime-node, the same tokenizer and truncation), src/search (binary pass + int8 rescoring, doc = best
 * passage; BM25 over the lexical buckets; fusion) and src/text/analyzer.ts. Offline and worker numbers are comparable.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createNodeEncoder } from "../encoder/node-encoder.ts";
import {
  decodeDocBlock, decodeLexicalBucket, decodeLexicalNorms, decodeShard, parseManifest, type LexicalBucket, type LexicalSection,
  type Manifest,
} from "../../src/format/index.ts";
import { isKnownAnalyzer } from "../../src/text/analyzer.ts";
import { searchHybrid, searchOptions, type SearchMode } from "../../src/search/modes.ts";
import type { Fusion, Normalization } from "../../src/search/fusion.ts";
import { searchLexical, type LexicalReader } from "../../src/search/bm25.ts";
import { denseFloor, denseResult, type ShardVectors } from "../../src/search/dense.ts";
import { createTokenizer } from "../../src/text/tokenizer/index.ts";
import type { Run } from "./metrics.ts";

export interface IndexSearchOptions {
  /** Default: the manifest's (hybrid with a lexical section, else dense). */
  mode?: SearchMode;
  /**
   * Default: the manifest's `lexical.fusion`; a weighted fusion without normalization, or an rrf without k, takes
   * the manifest's.
   */
  fusion?: { mode: "rrf"; k?: number } | { mode: "weighted"; weight: number; normalization?: Normalization };
  /** Candidates per side for hybrid (default: the manifest's `lexical.fusion.depth`). */
  depth?: number;
  k: number;
  threads?: number;
  log?: (m: string) => void;
}

export interface OpenIndex {
  manifest: Manifest;
  ids: string[];
  shards: ShardVectors[];
  lexical?: LexicalReader;
}

const readObj = (dir: string, path: string) => new Uint8Array(readFileSync(join(dir, path)));

/** Reads a build directory into memory (lexical buckets lazily, as the worker does). */
export function openIndex(dir: string): OpenIndex {
  const manifest = parseManifest(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
  const ids: string[] = [];
  for (const b of manifest.docs.blocks) for (const d of decodeDocBlock(readObj(dir, b.path))) ids.push(d.id);
  const shards = manifest.partitions.flatMap((p) => p.shards).map((ref) => {
    const s = decodeShard(readObj(dir, ref.path));
    return { count: s.header.count, dims: s.header.dims, ...s };
  });
  const section = manifest.lexical;
  const lexical = section && isKnownAnalyzer(section.analyzer) ? fileLexicalReader(dir, section) : undefined;
  return { manifest, ids, shards, lexical };
}

/** The BM25 objects of a directory, decoded lazily and kept (as the worker reads them from R2). */
export function fileLexicalReader(dir: string, section: LexicalSection): LexicalReader {
  const buckets = new Map<number, LexicalBucket>();
  let norms: Uint8Array | undefined;
  return {
    section,
    bucket: async (id) => {
      let b = buckets.get(id);
      if (!b) buckets.set(id, (b = decodeLexicalBucket(readObj(dir, section.buckets[id].path))));
      return b;
    },
    norms: async () => (norms ??= decodeLexicalNorms(readObj(dir, section.norms.path))),
  };
}

/** Searches every query; returns a run of doc ids plus the mode each query was answered in. */
export async function indexRun(dir: string, queries: Array<{ id: string; text: string }>, o: IndexSearchOptions): Promise<{ run: Run; modes: Record<string, number> }> {
  const log = o.log ?? (() => {});
  const idx = openIndex(dir);
  const m = idx.manifest;
  // What the fusion leaves out comes from the index, exactly as for a worker request; rrf:<k> names its own k.
  const f = o.fusion;
  const named = f?.mode === "weighted" ? { fusion: "weighted" as const, weight: f.weight, normalization: f.normalization } : f ? { fusion: "rrf" as const } : {};
  const def = searchOptions(m.lexical, { mode: o.mode, ...named });
  const mode = def.mode;
  if (mode !== "dense" && !idx.lexical) throw new Error(`${dir}: mode ${mode} needs a lexical section (with analyzer this code knows); the index has ${m.lexical ? JSON.stringify(m.lexical.analyzer) : "none"}`);
  const fusion: Fusion = f?.mode === "rrf" && f.k !== undefined ? { mode: "rrf", k: f.k } : def.fusion;
  const depth = o.depth ?? def.depth;
  log(`index ${dir}: ${m.corpus.documents} docs, ${m.corpus.passages} passages, mode ${mode}, fusion ${JSON.stringify(fusion)}, depth ${depth}, k ${o.k}`);
  const tokenizer = createTokenizer(JSON.parse(readFileSync(join(dir, m.model.vocab.path), "utf8")));
  // Every mode may need the query vector: lexical falls back to dense for queries without an indexed term.
  const encoder = await createNodeEncoder({ modelPath: join(dir, m.model.query.path), device: "cpu", maxLen: m.model.maxQueryTokens, intraOpThreads: o.threads, log });
  const run: Run = new Map();
  const modes: Record<string, number> = {};
  try {
    for (const q of queries) {
      const dense = async (n: number) => denseResult(await encoder.encode([tokenizer.encode(q.text)]), idx.shards, n, m.search.rescore);
      const r = await searchHybrid({
        mode, k: o.k, depth, fusion, dense, denseFloor: denseFloor(m),
        lexical: idx.lexical ? (n) => searchLexical(idx.lexical!, q.text, n) : undefined,
      });
      modes[r.mode] = (modes[r.mode] ?? 0) + 1;
      run.set(q.id, r.hits.map((h) => ({ id: idx.ids[h.ordinal], score: h.score })));
    }
  } finally {
    await encoder.close();
  }
  return { run, modes };
}
