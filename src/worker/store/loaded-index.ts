import { createQueryEncoder, type QueryEncoder } from "../encoder/query-encoder";
import { createWasmSession } from "../encoder/ort-web";
import {
  decodeFloatRows, decodeShard, FormatError, objectKey, parseManifest, parsePointer, pointerKey, sha256Hex,
  type LexicalSection, type Manifest, type ObjectRef, type Pointer, type RefineVectors,
} from "../../format";
import type { LexicalReader } from "../../search/bm25";
import type { ShardVectors } from "../../search/dense";
import { ivfOptions, isPartitioned, type IvfSource } from "../../search/ivf";
import type { VectorIndex } from "../../search/vector-index";
import { createTokenizer } from "../../text/tokenizer";
import type { ByteCache } from "./byte-cache";
import { lexicalReader, usableLexical } from "./bm25-reader";
import { fieldsReader, type FieldsReader } from "./fields-reader";
import type { PartitionCache, Pins } from "./partitions";
import { fetchVerified, getBytes } from "./r2";
import type { Storage } from "./storage";

/** What an isolate keeps across indexes and versions: the byte caches and the partitions in kernel memory. */
export interface IsolateCaches {
  /** Models, manifests' readers, flat shards, BM25 buckets, documents, results. */
  cache: ByteCache;
  /** Refine rows of partitioned indexes (large and rarely reused: kept apart so they never evict the rest). */
  refine: ByteCache;
  partitions: PartitionCache;
}

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
   * The query encoder, shared by every index whose query model, vocab and window are the same; loaded again (from
   * the colo cache) when the isolate cache evicted it.
   */
  encoder(s: Storage): Promise<QueryEncoder>;
  /** The BM25 section this worker can search (absent: none, or an unknown analyzer). */
  lexicalSection?: LexicalSection;
  /** The vectors and BM25 objects for one request; `probe` overrides a partitioned index's default. */
  open(s: Storage, opts?: { probe?: number }): IndexReaders;
}

/** Reads the index's pointer; null when the index has never been published (or does not exist). */
export async function readPointer(s: Storage, tenant: string, index: string): Promise<Pointer | null> {
  const bytes = await getBytes(s, pointerKey(tenant, index));
  if (!bytes) return null;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new FormatError("invalid_pointer", `pointer of ${tenant}/${index} is not JSON`, { cause: e });
  }
  return parsePointer(json, { tenant, index });
}

/**
 * Loads a version named by a pointer: the manifest (sha256 checked against the pointer), the query model and vocab,
 * the BM25 norms, and the vectors' entry point: a flat index's every shard (verified, so a corrupt version fails
 * here and never replaces a good one); a partitioned index's centroids only (partitions load when first probed).
 * Throws FormatError on any corrupt or missing object.
 */
export async function loadIndex(s: Storage, iso: IsolateCaches, tenant: string, index: string, pointer: Pointer): Promise<LoadedIndex> {
  const manifest = await loadManifest(s, tenant, index, pointer);
  const lexicalSection = usableLexical(manifest, tenant, index);
  // The model, the vectors' entry point and the BM25 norms in parallel: one round trip after the manifest.
  const [, vectors] = await Promise.all([
    loadEncoder(s, iso.cache, tenant, index, manifest),
    isPartitioned(manifest) ? partitionedVectors(s, iso, tenant, index, manifest) : flatVectors(s, iso.cache, tenant, index, manifest),
    lexicalSection && lexicalReader(s, iso.cache, tenant, index, lexicalSection).norms(), // verified before serving
  ]);
  return {
    tenant, index, version: pointer.version, manifest, lexicalSection,
    encoder: (rs) => loadEncoder(rs, iso.cache, tenant, index, manifest),
    open: (rs, opts = {}) => ({
      vectors: vectors(rs, opts.probe),
      lexical: lexicalSection && lexicalReader(rs, iso.cache, tenant, index, lexicalSection),
      fields: withFields(manifest) ? fieldsReader(rs, iso.cache, tenant, index, manifest) : undefined,
    }),
  };
}

function withFields(m: Manifest): m is Manifest & { fields: NonNullable<Manifest["fields"]> } {
  return m.fields !== undefined;
}

async function loadManifest(s: Storage, tenant: string, index: string, pointer: Pointer): Promise<Manifest> {
  const bytes = await getBytes(s, pointer.manifest);
  if (!bytes) throw new FormatError("truncated", `manifest ${pointer.manifest} is missing from R2`);
  const sha = await sha256Hex(bytes);
  if (sha !== pointer.sha256) throw new FormatError("checksum_mismatch", `manifest ${pointer.manifest}: expected sha256 ${pointer.sha256}, got ${sha}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new FormatError("invalid_manifest", `manifest ${pointer.manifest} is not JSON`, { cause: e });
  }
  return parseManifest(json);
}

type Vectors = (s: Storage, probe?: number) => VectorIndex;

/** A flat index: every shard, verified now, kept in the isolate cache (fetched again if evicted). */
async function flatVectors(s: Storage, cache: ByteCache, tenant: string, index: string, m: Manifest): Promise<Vectors> {
  const refs = m.partitions.flatMap((p) => p.shards);
  const shard = async (rs: Storage, ref: ObjectRef): Promise<ShardVectors> => {
    const key = objectKey(tenant, index, ref.path);
    const hit = cache.get<ShardVectors>(key);
    if (hit) return hit;
    const d = decodeShard(await fetchVerified(rs, tenant, index, ref));
    if (d.header.dims !== m.vectors.dim) throw new FormatError("invalid_object", `shard ${ref.path}: expected ${m.vectors.dim} dims, got ${d.header.dims}`);
    const view: ShardVectors = { count: d.header.count, dims: d.header.dims, ...d };
    cache.set(key, view, d.header.totalBytes);
    return view;
  };
  await Promise.all(refs.map((r) => shard(s, r)));
  return (rs) => ({ kind: "flat", rescore: m.search.rescore, shards: () => Promise.all(refs.map((r) => shard(rs, r))) });
}

/** A partitioned index: the centroids now; partitions through the isolate's partition cache when probed. */
async function partitionedVectors(s: Storage, iso: IsolateCaches, tenant: string, index: string, m: Manifest): Promise<Vectors> {
  const centroids = decodeFloatRows("centroids", await fetchVerified(s, tenant, index, m.centroids!));
  if (centroids.dims !== m.vectors.dim || centroids.count !== m.partitions.length) {
    throw new FormatError("invalid_object", `centroids ${m.centroids!.path}: expected ${m.partitions.length} of ${m.vectors.dim} dims, got ${centroids.count} of ${centroids.dims}`);
  }
  const hasRefine = m.partitions.every((p) => p.refine);
  // A query's partitions are pinned together: no request may probe more than the kernel memory holds at once.
  const largest = Math.max(...m.partitions.map((p) => p.shards[0].bytes));
  const fits = Math.max(1, Math.floor(iso.partitions.kernels.arena.stats().maxBytes / largest));
  return (rs, probe) => {
    const pinned: Pins = [];
    const source: IvfSource = {
      dims: m.vectors.dim,
      centroids: centroids.rows,
      partitions: m.partitions.length,
      kernels: iso.partitions.kernels,
      load: async (ids) => {
        const { parts, pins } = await iso.partitions.acquire(rs, tenant, index, ids.map((id) => m.partitions[id].shards[0]), m.vectors.dim);
        pinned.push(...pins);
        return parts;
      },
      refine: hasRefine ? (ids) => refineRows(rs, iso.refine, tenant, index, ids.map((id) => m.partitions[id].refine!), m.vectors.dim) : undefined,
      release: () => iso.partitions.release(pinned.splice(0)),
      partitionDocs: withFields(m) ? fieldsReader(rs, iso.cache, tenant, index, m).partitionDocs : undefined,
    };
    const options = ivfOptions(m, { probe });
    return { kind: "ivf", source, options: { ...options, probe: Math.min(options.probe, fits) } };
  };
}

/** Refine rows of partitions (isolate cache, else colo cache or R2). */
async function refineRows(s: Storage, cache: ByteCache, tenant: string, index: string, refs: ObjectRef[], dims: number): Promise<RefineVectors[]> {
  return Promise.all(refs.map(async (ref) => {
    const key = objectKey(tenant, index, ref.path);
    let r = cache.get<RefineVectors>(key);
    if (!r) {
      r = decodeFloatRows("refine", await fetchVerified(s, tenant, index, ref));
      if (r.count !== ref.count || r.dims !== dims) {
        throw new FormatError("invalid_object", `refine ${ref.path}: expected ${ref.count} rows of ${dims} dims, got ${r.count} of ${r.dims}`);
      }
      cache.set(key, r, r.rows.byteLength);
    }
    return r;
  }));
}

/**
 * The query encoder of a manifest's model, shared by every index (of any tenant) whose query model, vocab and window
 * are the same bytes: content-addressed, so one verified copy serves all. Released when evicted.
 */
async function loadEncoder(s: Storage, cache: ByteCache, tenant: string, index: string, manifest: Manifest): Promise<QueryEncoder> {
  const { query, vocab, maxQueryTokens } = manifest.model;
  const key = `model:${query.sha256}|${vocab.sha256}|${maxQueryTokens}|${manifest.vectors.dim}`;
  const hit = cache.get<QueryEncoder>(key);
  if (hit) return hit;
  // Concurrent requests that miss the same model share one load (one session, not one per request).
  let loading = encodersLoading.get(key);
  if (!loading) {
    loading = createEncoder(s, cache, tenant, index, manifest, key).finally(() => encodersLoading.delete(key));
    encodersLoading.set(key, loading);
  }
  return loading;
}

/** Encoder loads in flight in this isolate, by cache key. */
const encodersLoading = new Map<string, Promise<QueryEncoder>>();

async function createEncoder(s: Storage, cache: ByteCache, tenant: string, index: string, manifest: Manifest, key: string): Promise<QueryEncoder> {
  const { query, vocab, maxQueryTokens } = manifest.model;
  const [modelBytes, vocabBytes] = await Promise.all([fetchVerified(s, tenant, index, query), fetchVerified(s, tenant, index, vocab)]);
  let encoder: QueryEncoder;
  try {
    const tokenizer = createTokenizer(JSON.parse(new TextDecoder().decode(vocabBytes)));
    const session = await createWasmSession(modelBytes);
    encoder = createQueryEncoder(session, tokenizer, { maxTokens: maxQueryTokens, dim: manifest.vectors.dim, modelSha256: query.sha256 });
  } catch (e) {
    // A vocab that is not JSON or a model onnxruntime refuses: a broken index (503), never a 500.
    throw new FormatError("invalid_object", `query model ${query.path} or vocab ${vocab.path} of ${tenant}/${index} cannot be loaded: ${(e as Error).message}`, { cause: e });
  }
  // The session's wasm memory is roughly the model's size again; count both.
  cache.set(key, encoder, 2 * modelBytes.byteLength + vocabBytes.byteLength, () => encoder.dispose());
  return encoder;
}
