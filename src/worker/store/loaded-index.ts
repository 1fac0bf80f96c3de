import {
  cachedQueryVector, createQueryEncoder, EncoderReleasedError, type EncodedQuery, type ModelEngine, type ModelRunner, type OnnxRuntime, type QueryEncoder,
} from "../encoder/query-encoder";
import { queryModelOf } from "../../search/query-model";
import {
  checkedShard, decodeFloatRows, decodeTombstones, flatShardRefs, FormatError, objectKey,
  type LexicalSection, type Manifest, type ObjectRef, type Pointer, type RefineVectors, type Tombstones,
} from "../../format";
import type { LexicalReader } from "../../search/bm25";
import type { ShardVectors } from "../../search/dense";
import type { DocFilter } from "../../search/filter";
import { liveDocuments, versionDocs } from "../../search/segments";
import { ivfOptions, isPartitioned, kernelBytesOf, type IvfSource, type ScanPrecision } from "../../search/ivf";
import { int4RowsStay } from "../../search/budget";
import type { VectorIndex } from "../../search/vector-index";
import type { Tokenizer } from "../../text/tokenizer";
import { loadTokenizer } from "../encoder/tokenizer-loader";
import { cachedLoad, type ByteCache } from "./byte-cache";
import { IndexTooLargeError } from "./load-failure";
import { deltaLexicalReader, lexicalReader, usableLexical } from "./bm25-reader";
import { fieldsReader, type FieldsReader } from "./fields-reader";
import { int4Seal, type PartitionCache, type Pins } from "./partitions";
import { loadManifest } from "./manifest-reader";
import { cachedObject, fetchVerified } from "./r2";
import type { Storage } from "./storage";

/** What an isolate keeps across indexes and versions: the byte caches and the partitions in kernel memory. */
export interface IsolateCaches {
  /** Models, manifests' readers, flat shards, BM25 buckets, documents, results. */
  cache: ByteCache;
  /** The compiled kernels (kernels.wasm), which also run the query model; absent: only `onnxruntime` can run it. */
  kernels?: WebAssembly.Module;
  /** Where a query model the kernels do not take runs; absent (the lite worker): such a model is not loaded. */
  onnxruntime?: OnnxRuntime;
  /** Refine rows of partitioned indexes (large and rarely reused: kept apart so they never evict the rest). */
  refine: ByteCache;
  partitions: PartitionCache;
}

/** The most shard bytes a flat index may have in a cache of `budget` bytes. */
export const flatLimit = (budget: number) => Math.floor(budget / 4);

/** What one request reads an index through. */
export interface IndexReaders {
  vectors: VectorIndex;
  lexical?: LexicalReader;
  /** Absent when the index declares no filterable fields. */
  fields?: FieldsReader;
}

/** One published version of an index, ready to search. */
export interface LoadedIndex {
  tenant: string;
  index: string;
  version: string;
  manifest: Manifest;
  /**
   * The query encoder: a handle that holds no ONNX session itself. Each encode takes the encoder shared by every
   * index whose query model, vocab and window are the same from the isolate cache, loaded again (from the colo cache)
   * when the cache evicted it, so an evicted encoder (and its session) is reachable from nowhere.
   */
  encoder(s: Storage): Promise<EncoderHandle>;
  /**
   * The query model's session, made (and run once) if this isolate does not hold it: begun by the first request that
   * needs it, not by the version's load (BM25, the static tier and colo-cached query vectors need none, and loading
   * it takes about 25 ms of the isolate's one thread on the kernels, 100-200 ms for an onnxruntime-web session). Rejects when the model cannot be loaded. A replacement
   * version waits for it before it serves (a version with a broken model never replaces a good one); a first version
   * whose model fails its first load is taken out by the registry (a later reload's failure is that request's).
   */
  ensureModel(s: Storage): Promise<void>;
  /** Whether this isolate holds the query model now (a query with it encodes without waiting). */
  modelLoaded(): boolean;
  /** What runs the query model in this isolate (the kernels, or onnxruntime-web); undefined while it is not loaded. */
  modelEngine(): ModelEngine | undefined;
  /**
   * The query model's vector of `text` from the colo cache, needing no session (what another isolate computed for the
   * same model, vocab and token ids); null when the colo has none (or none this deployment sealed).
   */
  cachedVector(s: Storage, text: string): Promise<EncodedQuery | null>;
  /** The tokenizer of the index's query model (highlights find the passages' text with it). */
  tokenizer(s: Storage): Promise<Tokenizer>;
  /** Bytes this loaded version holds outside the byte caches (its manifest, a partitioned index's centroids). */
  residentBytes: number;
  /** The BM25 section this worker can search (absent: none, or an unknown analyzer). */
  lexicalSection?: LexicalSection;
  /** An updated version's deleted base documents (absent: none). */
  tombstones?: Tombstones;
  /** The documents a search may return when some are deleted (absent: every document). */
  live?: DocFilter;
  /** The vectors and BM25 objects for one request; `probe` overrides a partitioned index's default. */
  open(s: Storage, opts?: { probe?: number }): IndexReaders;
}

/**
 * Loads a version named by a pointer: the manifest (sha256 checked against the pointer), the vocab, the BM25 norms,
 * and the vectors' entry point: a flat index's every shard (verified, so a corrupt version fails here and never
 * replaces a good one); a partitioned index's centroids only (partitions load when first probed). Not the query
 * model: it is loaded when a request needs it (`ensureModel`; about 25 ms of CPU in a new isolate on the kernels,
 * 100-200 ms in onnxruntime-web), or before a
 * replacement version serves (the registry).
 * Throws IndexTooLargeError for a flat index over its share of the cache (before any shard is read), FormatError on
 * any corrupt or missing object, and whatever R2 throws: the registry remembers each (load-failure.ts).
 */
export async function loadIndex(s: Storage, iso: IsolateCaches, tenant: string, index: string, pointer: Pointer): Promise<LoadedIndex> {
  const { manifest, bytes } = await loadManifest(s, tenant, index, pointer);
  checkFlatSize(manifest, iso.cache.budget, tenant, index);
  const lexicalSection = usableLexical(manifest, tenant, index);
  // The vectors' entry point, the vocab and the BM25 norms in parallel: one round trip after the manifest (the query
  // model is loaded when a request needs it: `ensureModel`).
  const delta = manifest.delta;
  const lexical = (rs: Storage): LexicalReader | undefined => lexicalSection && {
    ...lexicalReader(rs, iso.cache, tenant, index, lexicalSection),
    delta: delta?.lexical && deltaLexicalReader(rs, iso.cache, tenant, index, delta.first, delta.lexical),
  };
  const lex = lexical(s);
  const [{ vectors, bytes: vectorBytes }, , tombstones] = await Promise.all([
    isPartitioned(manifest) ? partitionedVectors(s, iso, tenant, index, manifest) : flatVectors(s, iso.cache, tenant, index, manifest),
    // The vocab, verified before serving: the static tier, cached query vectors and highlights need it (not the model).
    loadTokenizer(s, iso.cache, tenant, index, manifest.model.vocab),
    manifest.tombstones && loadTombstones(s, tenant, index, manifest),
    lex?.norms(), // verified before serving, the delta's too
    lex?.delta?.norms(),
  ]);
  const load = (rs: Storage) => loadEncoder(rs, iso, tenant, index, manifest);
  const live = liveDocuments(versionDocs(manifest, tombstones));
  return {
    tenant, index, version: pointer.version, manifest, lexicalSection, tombstones, live,
    // The parsed manifest at its JSON's bytes (V8 holds a parsed manifest in 0.93x its JSON: measured on the 100k and
    // 1M benchmarks' manifests, 0.5 and 2 MB); the tombstones and the live documents at their bits.
    residentBytes: bytes + vectorBytes + (tombstones?.bits.byteLength ?? 0) + (live?.bits.byteLength ?? 0),
    encoder: async (rs) => encoderHandle(load, rs, manifest.vectors.dim),
    ensureModel: async (rs) => void (await load(rs)),
    modelLoaded: () => iso.cache.get(encoderKey(manifest)) !== undefined,
    modelEngine: () => (iso.cache.get(encoderKey(manifest)) as QueryEncoder | undefined)?.engine,
    cachedVector: async (rs, text) => {
      if (!rs.colo) return null;
      const { vocab, maxQueryTokens, query } = manifest.model;
      try {
        const tokenizer = await loadTokenizer(rs, iso.cache, tenant, index, vocab);
        return await cachedQueryVector(tokenizer, text, rs, { maxTokens: maxQueryTokens, dim: manifest.vectors.dim, modelSha256: query.sha256, vocabSha256: vocab.sha256 });
      } catch {
        return null;
      }
    },
    tokenizer: (rs) => loadTokenizer(rs, iso.cache, tenant, index, manifest.model.vocab),
    open: (rs, opts = {}) => ({
      vectors: vectors(rs, opts.probe),
      lexical: lexical(rs),
      fields: withFields(manifest) ? fieldsReader(rs, iso.cache, tenant, index, manifest) : undefined,
    }),
  };
}

/** An updated version's tombstones, checked against the manifest (they are small: one bit per base document). */
async function loadTombstones(s: Storage, tenant: string, index: string, m: Manifest): Promise<Tombstones> {
  const ref = m.tombstones!;
  const t = decodeTombstones(await fetchVerified(s, tenant, index, ref));
  if (t.documents !== m.corpus.documents || t.deleted !== ref.count) {
    throw new FormatError("invalid_object", `tombstones ${ref.path}: ${t.deleted} of ${t.documents} documents, manifest ${ref.count} of ${m.corpus.documents}`);
  }
  return t;
}

function withFields(m: Manifest): m is Manifest & { fields: NonNullable<Manifest["fields"]> } {
  return m.fields !== undefined;
}

/** Refuses a flat index whose shards (its delta's too) exceed its share of the cache (IndexTooLargeError), before reading any shard. */
function checkFlatSize(m: Manifest, budget: number, tenant: string, index: string): void {
  if (isPartitioned(m)) return;
  const bytes = flatShardRefs(m).reduce((t, r) => t + r.bytes, 0);
  const limit = flatLimit(budget);
  if (bytes <= limit) return;
  throw new IndexTooLargeError(
    "index_too_large",
    `flat index ${tenant}/${index} has ${bytes} bytes of shards, over this isolate's limit of ${limit} (a quarter of half of CACHE_BUDGET_BYTES): build it partitioned (i3 build --partitions, the default above 1024 passages)`,
  );
}

type Vectors = (s: Storage, probe?: number) => VectorIndex;

/** A flat index: every shard, verified now, kept in the isolate cache (fetched again if evicted). */
async function flatVectors(s: Storage, cache: ByteCache, tenant: string, index: string, m: Manifest): Promise<{ vectors: Vectors; bytes: number }> {
  const refs = flatShardRefs(m);
  const shard = (rs: Storage, ref: ObjectRef) => cachedObject(rs, cache, tenant, index, ref, (bytes): ShardVectors => {
    const d = checkedShard(bytes, ref, m.vectors.dim, "shard");
    return { count: d.header.count, dims: d.header.dims, ...d };
  });
  await Promise.all(refs.map((r) => shard(s, r)));
  return { vectors: (rs) => ({ kind: "flat", rescore: m.search.rescore, shards: () => Promise.all(refs.map((r) => shard(rs, r))) }), bytes: 0 };
}

/** A partitioned index: the centroids now; partitions through the isolate's partition cache when probed. */
async function partitionedVectors(s: Storage, iso: IsolateCaches, tenant: string, index: string, m: Manifest): Promise<{ vectors: Vectors; bytes: number }> {
  const centroids = decodeFloatRows("centroids", await fetchVerified(s, tenant, index, m.centroids!));
  if (centroids.dims !== m.vectors.dim || centroids.count !== m.partitions.length) {
    throw new FormatError("invalid_object", `centroids ${m.centroids!.path}: expected ${m.partitions.length} of ${m.vectors.dim} dims, got ${centroids.count} of ${centroids.dims}`);
  }
  const hasRefine = m.partitions.every((p) => p.refine);
  // A query's partitions are pinned together: no request may probe more than the kernel memory holds at once. A
  // partition takes its rows (int8, or int4 at half: search.scan) and scales there, not its sign codes and ordinals
  // (a shard reference always has its count: the manifest rules); a megabyte is left for the query's scratch.
  const kernelMax = iso.partitions.kernels.arena.stats().maxBytes;
  const scan = scanOf(m, kernelMax, (await int4Seal(s)) !== null);
  const kernelBytes = m.partitions.map(({ shards: [s] }) => kernelBytesOf(s.count!, m.vectors.dim, scan));
  const deltaBytes = (m.delta?.shards ?? []).reduce((n, r) => n + r.bytes, 0); // scanned beside every probe
  if (deltaBytes > kernelMax / 2) {
    // It would not stay in kernel memory beside the probed partitions: every query would fetch it again.
    throw new IndexTooLargeError("index_too_large", `index ${tenant}/${index}: its delta has ${deltaBytes} bytes of vectors, over half of this isolate's kernel memory (${kernelMax}): compact it (i3 compact, or i3 build --base ... --compact-above 0.1)`);
  }
  const capacity = Math.max(0, kernelMax - (1 << 20) - deltaBytes);
  const vectors: Vectors = (rs, probe) => {
    const pinned: Pins = [];
    const source: IvfSource = {
      dims: m.vectors.dim,
      centroids: centroids.rows,
      partitions: m.partitions.length,
      kernels: iso.partitions.kernels,
      load: async (ids) => {
        const { parts, pins } = await iso.partitions.acquire(rs, tenant, index, ids.map((id) => m.partitions[id].shards[0]), m.vectors.dim, scan);
        pinned.push(...pins);
        return parts;
      },
      refine: hasRefine ? (ids) => refineRows(rs, iso.refine, tenant, index, ids.map((id) => m.partitions[id].refine!), m.vectors.dim) : undefined,
      release: () => iso.partitions.release(pinned.splice(0)),
      // An updated version's delta: scanned by every query, held in the same kernel memory as the partitions.
      always: m.delta && (async () => {
        const { parts, pins } = await iso.partitions.acquire(rs, tenant, index, m.delta!.shards, m.vectors.dim);
        pinned.push(...pins);
        return parts;
      }),
      partitionDocs: withFields(m) ? fieldsReader(rs, iso.cache, tenant, index, m).partitionDocs : undefined,
      fits: (order) => {
        let used = 0, n = 0;
        while (n < order.length && used + kernelBytes[order[n]] <= capacity) used += kernelBytes[order[n++]];
        return n;
      },
    };
    return { kind: "ivf", source, options: { ...ivfOptions(m, { probe }), scan } };
  };
  return { vectors, bytes: centroids.rows.byteLength };
}

/**
 * The precision this worker scans a partitioned index at: the plan's int4 where its int4 rows stay (nearly) resident
 * in this isolate's kernel memory, or where the colo shares them (a colo cache and a COLO_SHARE_SECRET:
 * partitions.ts); else int8, the objects' own rows, with the plan's probe and refine (as exact or better: int8
 * ranks candidates at least as well as int4). Converting every partition each isolate reads, for rows that do not stay,
 * cost more than the halved memory saved (RESULTS §23: 47.0 against 37.2 ms at 1M passages).
 */
export function scanOf(m: Manifest, kernelMax: number, coloShares: boolean): ScanPrecision {
  if ((m.search.scan ?? "int8") !== "int4") return "int8";
  const int4Bytes = m.partitions.reduce((n, { shards: [s] }) => n + kernelBytesOf(s.count!, m.vectors.dim, "int4"), 0);
  return coloShares || int4RowsStay(int4Bytes, kernelMax) ? "int4" : "int8";
}

/** Refine rows of partitions (isolate cache, else colo cache or R2). */
async function refineRows(s: Storage, cache: ByteCache, tenant: string, index: string, refs: ObjectRef[], dims: number): Promise<RefineVectors[]> {
  return Promise.all(refs.map((ref) => cachedObject(s, cache, tenant, index, ref, (bytes) => {
    const r = decodeFloatRows("refine", bytes);
    if (r.count !== ref.count || r.dims !== dims) {
      throw new FormatError("invalid_object", `refine ${ref.path}: expected ${ref.count} rows of ${dims} dims, got ${r.count} of ${r.dims}`);
    }
    return r;
  })));
}

/**
 * The query encoder of a manifest's model, shared by every index (of any tenant) whose query model, vocab and window
 * are the same bytes: content-addressed, so one verified copy serves all. Released when evicted.
 */
async function loadEncoder(s: Storage, iso: IsolateCaches, tenant: string, index: string, manifest: Manifest): Promise<QueryEncoder> {
  const key = encoderKey(manifest);
  return cachedLoad(iso.cache, key, s, () => createEncoder(s, iso, tenant, index, manifest, key));
}

/** The isolate cache's key of a manifest's shared query encoder. */
function encoderKey(manifest: Manifest): string {
  const { query, vocab, maxQueryTokens, graph } = manifest.model;
  return `model:${query.sha256}|${vocab.sha256}|${maxQueryTokens}|${manifest.vectors.dim}|${graph ?? ""}`;
}

/** What a loaded index encodes queries with: the shared encoder, without holding it (or its tokenizer). */
export type EncoderHandle = Omit<QueryEncoder, "tokenizer" | "engine">;

/**
 * A handle on the shared encoder of a manifest that holds none: every encode takes it from the isolate cache. An
 * encoder evicted (and released) between that lookup and its encode is loaded again, once.
 */
function encoderHandle(load: (s: Storage) => Promise<QueryEncoder>, s: Storage, dim: number): EncoderHandle {
  return {
    dim,
    async encode(text, cache, how) {
      for (let attempt = 0; ; attempt++) {
        const encoder = await load(s);
        try {
          return await encoder.encode(text, cache, how);
        } catch (e) {
          if (!(e instanceof EncoderReleasedError) || attempt > 0) throw e;
        }
      }
    },
    dispose() {}, // the shared encoder is released by the cache that holds it
  };
}

/** A query the encoder runs once at load: a model whose output is not `[1, dim]` fails there, not at a search. */
const PROBE_QUERY = "query";

async function createEncoder(s: Storage, iso: IsolateCaches, tenant: string, index: string, manifest: Manifest, key: string): Promise<QueryEncoder> {
  const { query, vocab, maxQueryTokens, graph } = manifest.model;
  const dim = manifest.vectors.dim;
  const [modelBytes, tokenizer] = await Promise.all([fetchVerified(s, tenant, index, query), loadTokenizer(s, iso.cache, tenant, index, vocab)]);
  let encoder: QueryEncoder | undefined;
  let held: number;
  try {
    // The kernels where they take the graph (milliseconds to load); else, where the worker has onnxruntime (the full
    // worker: onnxruntime-web), a session (100-200 ms); else (the lite worker) the model cannot be loaded: 503.
    const what = `query model ${query.path} of ${tenant}/${index}`;
    const kernels = kernelModel(modelBytes, iso.kernels, maxQueryTokens, tokenizer);
    let runner: ModelRunner;
    if (!("reason" in kernels)) {
      if (kernels.dim !== dim) throw new FormatError("invalid_object", `query model output expected ${dim} dims, got ${kernels.dim}`);
      runner = kernels.runner;
      held = kernels.bytes;
    } else if (iso.onnxruntime) {
      console.log(`${what} runs in onnxruntime: ${kernels.reason}`);
      runner = await iso.onnxruntime(modelBytes, graph, dim, maxQueryTokens);
      held = 2 * modelBytes.byteLength; // the session's wasm memory is roughly the model's size again
    } else {
      throw new Error(`this worker runs query models on its kernels only (the lite build: no onnxruntime), and they do not take this one (${kernels.reason}); ` +
        "publish an index whose model was exported by `python -m offline.train.export optimize` (models/i3-scifact is), or deploy the full worker");
    }
    encoder = createQueryEncoder(runner, tokenizer, { maxTokens: maxQueryTokens, dim, modelSha256: query.sha256, vocabSha256: vocab.sha256 });
    if ("reason" in kernels) await encoder.encode(PROBE_QUERY); // the kernels' model ran it already (kernelModel)
  } catch (e) {
    encoder?.dispose(); // its session is released: nothing keeps a failed model
    // A vocab that is not JSON, a model onnxruntime refuses, an output of the wrong shape: a broken index (503).
    throw new FormatError("invalid_object", `query model ${query.path} or vocab ${vocab.path} of ${tenant}/${index} cannot be loaded: ${(e as Error).message}`, { cause: e });
  }
  const loaded = encoder;
  iso.cache.set(key, loaded, held, () => loaded.dispose()); // its tokenizer is counted where it is cached
  return loaded;
}

/**
 * The query model on the kernels (src/search/query-model.ts), run once on the probe query; why not, where they do not
 * take its graph or fail to load or run it (onnxruntime runs it then, where the worker has it). A model that fails on
 * a query later is a broken index (FormatError, 503), as in onnxruntime.
 */
function kernelModel(bytes: Uint8Array, module: WebAssembly.Module | undefined, maxTokens: number, tokenizer: Tokenizer):
  { runner: ModelRunner; dim: number; bytes: number } | { reason: string } {
  let model;
  try {
    model = queryModelOf(bytes, module, maxTokens);
    if (!("reason" in model)) model.encode(tokenizer.encode(PROBE_QUERY).slice(0, maxTokens));
  } catch (e) {
    return { reason: `the kernels failed on it: ${(e as Error).message}` };
  }
  if ("reason" in model) return { reason: model.reason };
  const m = model;
  const run = (ids: number[]) => {
    try {
      return m.encode(ids);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      throw new FormatError("invalid_object", `query model failed to run: ${(e as Error).message}`, { cause: e });
    }
  };
  return { runner: { engine: "kernels", run, release: async () => {} }, dim: m.dim, bytes: m.bytes };
}
