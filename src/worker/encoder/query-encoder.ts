import type { Tokenizer } from "../../text/tokenizer";
import { getSealed, putSealed, sealOf, type ColoSeal } from "../store/colo-seal";
import { coloKey } from "../store/storage";

/** Where a query vector came from: the model, or a cache of earlier encodings of the same token ids. */
export type EncodedFrom = "model" | "isolate" | "colo";

export interface EncodedQuery {
  vector: Float32Array;
  tokens: number;
  truncated: boolean;
  from: EncodedFrom;
}

/**
 * Optional colo cache for query vectors (the Workers Cache API of the request), its waitUntil and connection slots,
 * and the deployment's COLO_SHARE_SECRET (vectors sealed with it; absent: shared unsealed).
 */
export interface VectorCache {
  colo?: Cache;
  coloSecret?: string;
  defer(p: Promise<unknown>): void;
  slot<T>(read: () => Promise<T>): Promise<T>;
}

/** Encodes one query into the vector space of the index (the query tower of the model). */
export interface QueryEncoder {
  /** The model's tokenizer (highlights map passages, token windows, back to text with it). */
  tokenizer: Tokenizer;
  /** `coloChecked`: the caller already found the colo cache without this query's vector (it is not asked again). */
  encode(text: string, cache?: VectorCache, opts?: { coloChecked?: boolean }): Promise<EncodedQuery>;
  dim: number;
  /** What runs the query model: this project's kernels, or onnxruntime (a graph the kernels do not take; full worker only). */
  engine: ModelEngine;
  /** Releases the model once no encode is running (on eviction from the isolate cache). */
  dispose(): void;
}

export type ModelEngine = "kernels" | "onnxruntime";

/** The query model itself: token ids (truncated to the query window) in, the model's vector out. */
export interface ModelRunner {
  engine: ModelEngine;
  run(ids: number[]): Float32Array | Promise<Float32Array>;
  /** Frees what the model holds outside the JS heap (onnxruntime's session); called once. */
  release(): Promise<void>;
}

/**
 * Runs an ONNX query model in onnxruntime (the full worker: onnxruntime-web, src/worker/encoder/ort-web.ts) where the
 * kernels do not take its graph: the model's bytes, whether its graph was optimized at export, its output dims and
 * query window in; its runner out. A worker without one (src/index-lite.ts) serves only models the kernels take.
 */
export type OnnxRuntime = (model: Uint8Array, graph: "optimized" | undefined, dim: number, maxTokens: number) => Promise<ModelRunner>;

/** An encode on an encoder whose session was released (evicted from the isolate cache): take the encoder again. */
export class EncoderReleasedError extends Error {}

/** The token ids of a query as the model reads them (its first `maxTokens`), and their cache key. */
export function queryKey(tokenizer: Tokenizer, text: string, maxTokens: number): { ids: number[]; key: string; tokens: number; truncated: boolean } {
  const all = tokenizer.encode(text);
  const ids = all.slice(0, maxTokens);
  return { ids, key: ids.join("."), tokens: ids.length, truncated: all.length > maxTokens };
}

/** Which vectors a query's token ids stand for: the model's and the vocab's sha256 (ids mean nothing without the vocab). */
export interface VectorKeyOpts {
  maxTokens: number;
  dim: number;
  modelSha256: string;
  vocabSha256: string;
}

/**
 * Where a query vector lives in the colo cache: the model's and the vocab's sha256, the query window, the token ids;
 * with the deployment's COLO_SHARE_SECRET (`cache.coloSecret`), under its namespace and sealed (HMAC of the bytes),
 * so that a vector another Worker on the zone put there is never taken. Null: no colo cache, or no seal to be made.
 */
async function coloEntry(cache: VectorCache, opts: VectorKeyOpts, key: string): Promise<{ url: string; seal?: ColoSeal } | null> {
  if (!cache.colo) return null;
  const path = `${opts.modelSha256}/${opts.vocabSha256}/${opts.maxTokens}/${key}`;
  if (!cache.coloSecret) return { url: coloKey(`qvec/${path}`) };
  const seal = await sealOf(cache);
  return seal && { url: coloKey(`qvec/${seal.namespace}/${path}`), seal };
}

/** A query vector the colo holds (null: none, a seal that does not verify, or not `dim` finite floats). */
async function coloVector(cache: VectorCache, entry: { url: string; seal?: ColoSeal }, dim: number): Promise<Float32Array | null> {
  const bytes = await getSealed(cache, entry.url, entry.seal);
  if (!bytes || bytes.byteLength !== 4 * dim) return null;
  const v = new Float32Array(bytes.buffer, bytes.byteOffset, dim);
  for (let d = 0; d < dim; d++) if (!Number.isFinite(v[d])) return null;
  return v;
}

/** Puts a query vector in the colo cache (sealed where the deployment has a secret), after the response. */
function putColoVector(cache: VectorCache, entry: { url: string; seal?: ColoSeal }, vector: Float32Array): void {
  putSealed(cache, entry.url, entry.seal, new Uint8Array(vector.slice().buffer));
}

/**
 * A query's vector from the colo cache without the model's session (a new isolate, while its session is made): what
 * an isolate that ran the model put there for the same model and token ids; null when there is none.
 */
export async function cachedQueryVector(
  tokenizer: Tokenizer, text: string, cache: VectorCache, opts: VectorKeyOpts,
): Promise<EncodedQuery | null> {
  const { key, tokens, truncated } = queryKey(tokenizer, text, opts.maxTokens);
  const entry = await coloEntry(cache, opts, key);
  const v = entry && (await coloVector(cache, entry, opts.dim));
  return v && { vector: v, tokens, truncated, from: "colo" };
}

/** Query vectors remembered per encoder (2 KiB each at 512 dims). */
const MEMO_ENTRIES = 2048;

/**
 * Wraps a query model (`ModelRunner`: the kernels' query-model.ts, or an onnxruntime session) and the tokenizer
 * of its model. `maxTokens` is the query window the model was trained with;
 * longer queries are truncated to their first `maxTokens` ids (and say so). Repeated queries, the common case at an
 * edge, are answered from the vectors of earlier encodings, keyed by the model's and the vocab's sha256 and the
 * truncated token ids: first from the isolate, then (onnxruntime's model only) from the colo cache.
 */
export function createQueryEncoder(
  model: ModelRunner,
  tokenizer: Tokenizer,
  opts: VectorKeyOpts,
): QueryEncoder {
  const memo = new Map<string, Float32Array>();
  // On the kernels a query encodes in 1-4 ms, about what one colo cache read takes in a deployment and more than it
  // saves: this isolate asks the colo only where its model is onnxruntime's (slower). A new isolate still asks (no
  // model yet: cachedQueryVector), and takes what the isolates before it put there. So a vector this isolate has not
  // memoized is put again even when the colo holds it: one write after the answer, where the lookup was one read
  // before it.
  const asksColo = model.engine !== "kernels";
  let running = 0;
  let disposed = false;
  const release = () => void model.release().catch((e) => console.error(`releasing a query model (${model.engine}) failed:`, e));
  const remember = (key: string, v: Float32Array) => {
    memo.set(key, v);
    if (memo.size > MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
  };

  /** Encodes with the model held: a dispose during the call releases it only after. */
  async function encode(text: string, cache?: VectorCache, how: { coloChecked?: boolean } = {}): Promise<EncodedQuery> {
    if (disposed) throw new EncoderReleasedError("query encoder used after it was released");
    running++;
    try {
      return await lookupOrRun(text, cache, how.coloChecked === true);
    } finally {
      if (--running === 0 && disposed) release();
    }
  }

  /**
   * The vector of the query's token ids: remembered by this isolate, else by the colo (onnxruntime only), else from
   * the model; a vector the model made goes to the colo after the answer, for the colo's new isolates.
   */
  async function lookupOrRun(text: string, cache: VectorCache | undefined, coloChecked: boolean): Promise<EncodedQuery> {
    const { ids, key, ...meta } = queryKey(tokenizer, text, opts.maxTokens);
    const hit = memo.get(key);
    if (hit) return { vector: hit, ...meta, from: "isolate" };
    const entry = cache ? await coloEntry(cache, opts, key) : null;
    const v = entry && !coloChecked && asksColo && (await coloVector(cache!, entry, opts.dim));
    if (v) {
      remember(key, v);
      return { vector: v, ...meta, from: "colo" };
    }
    const vector = await model.run(ids);
    remember(key, vector);
    if (entry) putColoVector(cache!, entry, vector);
    return { vector, ...meta, from: "model" };
  }

  return {
    tokenizer,
    dim: opts.dim,
    engine: model.engine,
    encode,
    dispose() {
      if (disposed) return;
      disposed = true;
      memo.clear();
      if (running === 0) release();
    },
  };

}
