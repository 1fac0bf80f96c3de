/**
 * `--index <build dir>`: search a BUILT index offline with exactly the worker's code: the index's own query model
 * (onnxruntime-node, the same tokenizer and truncation), src/search (binary pass + int8 rescoring, doc = best
 * passage; BM25 over the lexical buckets; fusion) and src/text/analyzer.ts. Offline and worker numbers are comparable.
 */
import { readFile } from "node:fs/promises";
import { createQueryModelEncoder } from "../encoder/query-model.ts";
import {
  decodeDocBlock, decodeFloatRows, flatShardRefs, decodeLexicalBucket, decodeLexicalNorms, decodeShard, decodeStaticQuery, decodeTombstones, type LexicalBucket,
  type LexicalSection, type Manifest, type ObjectRef, type RefineVectors,
} from "../../src/format/index.ts";
import type { DocFilter } from "../../src/search/filter.ts";
import { liveDocuments, versionDocs } from "../../src/search/segments.ts";
import { ivfOptions, isPartitioned, scanRows, toKernelRows, type IvfPartition, type IvfSource } from "../../src/search/ivf.ts";
import { denseSearch, type VectorIndex } from "../../src/search/vector-index.ts";
import { openBuildDir, type BuildDir } from "../build/build-dir.ts";
import { nodeKernels } from "../vectors/kernels.ts";
import { isKnownAnalyzer } from "../../src/text/analyzer.ts";
import { searchHybrid, searchOptions, type SearchMode } from "../../src/search/modes.ts";
import type { Fusion, Normalization } from "../../src/search/fusion.ts";
import { searchLexical, type LexicalReader } from "../../src/search/bm25.ts";
import { denseFloor, type ShardVectors } from "../../src/search/dense.ts";
import { createStaticEncoder, type EncoderChoice } from "../../src/search/static-encoder.ts";
import { createTokenizer, type Tokenizer } from "../../src/text/tokenizer/index.ts";
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
  /** Partitions probed (partitioned indexes; default: the manifest's `search.probe`). */
  probe?: number;
  /** The dense side's query encoder (default: the manifest's `model.defaultEncoder`, else the query model). */
  encoder?: EncoderChoice;
  /** A static query model file used in place of the index's `model.static` (with encoder "static"). */
  staticModel?: string;
  k: number;
  threads?: number;
  log?: (m: string) => void;
}

export interface OpenIndex {
  build: BuildDir;
  manifest: Manifest;
  /** Document id by version ordinal (the base's, then an updated version's delta's). */
  ids: string[];
  /** The dense side with the index's default probe. */
  vectors: VectorIndex;
  lexical?: LexicalReader;
  /** An updated version with deleted documents: the ones a search may return (absent: all). */
  live?: DocFilter;
}

/**
 * Opens a build directory for searching: doc ids and the flat shards at once, a partitioned index's partitions
 * lazily (as the worker loads them), BM25 buckets lazily.
 */
export async function openIndex(dir: string, opts: { probe?: number } = {}): Promise<OpenIndex> {
  const build = await openBuildDir(dir);
  const manifest = build.manifest;
  const delta = manifest.delta;
  const ids: string[] = [];
  for (const b of [...manifest.docs.blocks, ...(delta?.docs.blocks ?? [])]) for (const d of decodeDocBlock(await build.readObject(b))) ids.push(d.id);
  const vectors = isPartitioned(manifest) ? await fileIvf(build, opts.probe) : await fileFlat(build);
  const section = manifest.lexical;
  const read = (ref: ObjectRef) => build.readObject(ref);
  const lexical: LexicalReader | undefined = section && isKnownAnalyzer(section.analyzer)
    ? { ...fileLexicalReader(read, section), ...(delta?.lexical ? { delta: { first: delta.first, ...fileLexicalReader(read, delta.lexical) } } : {}) }
    : undefined;
  const tombstones = manifest.tombstones && decodeTombstones(await build.readObject(manifest.tombstones));
  const live = liveDocuments(versionDocs(manifest, tombstones));
  return { build, manifest, ids, vectors, lexical, live };
}

async function decodeVectors(build: BuildDir, ref: Manifest["partitions"][number]["shards"][number]): Promise<ShardVectors> {
  const s = decodeShard(await build.readObject(ref));
  return { count: s.header.count, dims: s.header.dims, ...s };
}

/** A flat index's shards, an updated version's delta shards among them. */
async function fileFlat(build: BuildDir): Promise<VectorIndex> {
  const m = build.manifest;
  const refs = flatShardRefs(m);
  const shards = await Promise.all(refs.map((ref) => decodeVectors(build, ref)));
  return { kind: "flat", shards: async () => shards, rescore: build.manifest.search.rescore };
}

/**
 * A partitioned index's vectors from disk: partitions decoded on first use into kernel memory, kept; an updated
 * version's delta shards scanned by every query.
 */
async function fileIvf(build: BuildDir, probe?: number): Promise<VectorIndex> {
  const m = build.manifest;
  const centroids = decodeFloatRows("centroids", await build.readObject(m.centroids!));
  const kernels = nodeKernels(Math.min(2 ** 31, m.corpus.passages * (m.vectors.dim + 8) + (64 << 20)));
  const parts = new Map<number, IvfPartition>();
  const refine = new Map<number, RefineVectors>();
  let delta: IvfPartition[] | undefined;
  const source: IvfSource = {
    always: m.delta && (async () => (delta ??= await Promise.all(m.delta!.shards.map(async (ref) => {
      const s = await decodeVectors(build, ref); // int8: the delta is not refined
      return toKernelRows(kernels, s) ?? scanRows(s);
    })))),
    dims: m.vectors.dim, centroids: centroids.rows, partitions: m.partitions.length, kernels,
    load: (ids) => Promise.all(ids.map(async (id) => {
      let p = parts.get(id);
      if (!p) {
        const s = await decodeVectors(build, m.partitions[id].shards[0]);
        parts.set(id, (p = toKernelRows(kernels, s, m.search.scan) ?? scanRows(s, m.search.scan)));
      }
      return p;
    })),
    refine: m.partitions.every((p) => p.refine)
      ? (ids) => Promise.all(ids.map(async (id) => {
        let r = refine.get(id);
        if (!r) refine.set(id, (r = decodeFloatRows("refine", await build.readObject(m.partitions[id].refine!))));
        return r;
      }))
      : undefined,
  };
  return { kind: "ivf", source, options: ivfOptions(m, { probe }) };
}

/**
 * The BM25 objects of a build, decoded lazily and kept (as the worker reads them from R2), read through `read`:
 * the build directory's or the object store's checked reader.
 */
export function fileLexicalReader<S extends Pick<LexicalSection, "buckets" | "norms" | "documents">>(read: (ref: ObjectRef) => Promise<Uint8Array>, section: S): Omit<LexicalReader, "section"> & { section: S } {
  const buckets = new Map<number, LexicalBucket>();
  let norms: Uint8Array | undefined;
  return {
    section,
    bucket: async (id) => {
      let b = buckets.get(id);
      if (!b) buckets.set(id, (b = decodeLexicalBucket(await read(section.buckets[id]), section.documents)));
      return b;
    },
    norms: async () => (norms ??= decodeLexicalNorms(await read(section.norms))),
  };
}

/** Searches every query; returns a run of doc ids plus the mode each query was answered in. */
export async function indexRun(dir: string, queries: Array<{ id: string; text: string }>, o: IndexSearchOptions): Promise<{ run: Run; modes: Record<string, number> }> {
  const log = o.log ?? (() => {});
  const idx = await openIndex(dir, { probe: o.probe });
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
  const tokenizer = createTokenizer(JSON.parse(new TextDecoder().decode(await idx.build.readObject(m.model.vocab))));
  // Every mode may need the query vector: lexical falls back to dense for queries without an indexed term.
  const encoder = await queryEncoder(idx, tokenizer, o, log);
  const run: Run = new Map();
  const modes: Record<string, number> = {};
  try {
    for (const q of queries) {
      const dense = async (n: number) => denseSearch(await encoder.encode(q.text), idx.vectors, n, idx.live);
      const r = await searchHybrid({
        mode, k: o.k, depth, fusion, dense, denseFloor: denseFloor(m),
        lexical: idx.lexical ? (n) => searchLexical(idx.lexical!, q.text, n, { filter: idx.live }) : undefined,
      });
      modes[r.mode] = (modes[r.mode] ?? 0) + 1;
      run.set(q.id, r.hits.map((h) => ({ id: idx.ids[h.ordinal], score: h.score })));
    }
  } finally {
    await encoder.close();
  }
  return { run, modes };
}

/** The query encoder of a run: the index's query model as the worker runs it (offline/encoder/query-model.ts), or its static tier (the worker's code). */
async function queryEncoder(idx: OpenIndex, tokenizer: Tokenizer, o: IndexSearchOptions, log: (m: string) => void) {
  const m = idx.manifest;
  const choice = o.encoder ?? m.model.defaultEncoder ?? "model";
  if (choice === "static") {
    if (!o.staticModel && !m.model.static) throw new Error(`${idx.build.dir}: the index has no static query model (model.static); build with a model that has one, or pass --static-model`);
    const bytes = o.staticModel ? new Uint8Array(await readFile(o.staticModel)) : await idx.build.readObject(m.model.static!);
    const model = decodeStaticQuery(bytes);
    if (model.dims !== m.vectors.dim) throw new Error(`static query model: ${model.dims} dims, the index has ${m.vectors.dim}`);
    log(`encoder: static (${o.staticModel ?? m.model.static!.path}, ${model.vocab} x ${model.dims}, max ${model.maxTokens} tokens)`);
    const enc = createStaticEncoder(model, tokenizer);
    return { encode: async (text: string) => enc.encode(text).vector, close: async () => {} };
  }
  const enc = await createQueryModelEncoder({ modelPath: idx.build.objectFile(m.model.query), maxLen: m.model.maxQueryTokens, intraOpThreads: o.threads, log });
  return { encode: (text: string) => enc.encode([tokenizer.encode(text)]), close: () => enc.close() };
}
