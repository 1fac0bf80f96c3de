import { FormatError } from "../../format";
import type { Tokenizer } from "../../text/tokenizer";
import { ort, releaseSession } from "./ort-web";
import { toInputs } from "../../text/tensors";

/** Where a query vector came from: the model, or a cache of earlier encodings of the same token ids. */
export type EncodedFrom = "model" | "isolate" | "colo";

export interface EncodedQuery {
  vector: Float32Array;
  tokens: number;
  truncated: boolean;
  from: EncodedFrom;
}

/** Optional colo cache for query vectors (the Workers Cache API of the request), its waitUntil and connection slots. */
export interface VectorCache {
  colo?: Cache;
  defer(p: Promise<unknown>): void;
  slot<T>(read: () => Promise<T>): Promise<T>;
}

/** Encodes one query into the vector space of the index (the query tower of the model). */
export interface QueryEncoder {
  /** The model's tokenizer (highlights map passages, token windows, back to text with it). */
  tokenizer: Tokenizer;
  encode(text: string, cache?: VectorCache): Promise<EncodedQuery>;
  dim: number;
  /** Releases the ORT session once no encode is running (on eviction from the isolate cache). */
  dispose(): void;
}

/** An encode on an encoder whose session was released (evicted from the isolate cache): take the encoder again. */
export class EncoderReleasedError extends Error {}

/** Query vectors remembered per encoder (2 KiB each at 512 dims). */
const MEMO_ENTRIES = 2048;

/**
 * Wraps an ORT session and the tokenizer of its model. `maxTokens` is the query window the model was trained with;
 * longer queries are truncated to their first `maxTokens` ids (and say so). Repeated queries, the common case at an
 * edge, are answered from the vectors of earlier encodings, keyed by the model's sha256 and the truncated token
 * ids: first from the isolate, then from the colo cache.
 */
export function createQueryEncoder(
  session: ort.InferenceSession,
  tokenizer: Tokenizer,
  opts: { maxTokens: number; dim: number; modelSha256: string },
): QueryEncoder {
  const memo = new Map<string, Float32Array>();
  let running = 0;
  let disposed = false;
  const release = () => void releaseSession(session).catch((e) => console.error("releasing an ONNX session failed:", e));
  const remember = (key: string, v: Float32Array) => {
    memo.set(key, v);
    if (memo.size > MEMO_ENTRIES) memo.delete(memo.keys().next().value!);
  };

  async function run(ids: number[]): Promise<Float32Array> {
    const { inputIds, attentionMask, dims } = toInputs([ids], opts.maxTokens);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await session.run({
        input_ids: new ort.Tensor("int64", inputIds, dims),
        attention_mask: new ort.Tensor("int64", attentionMask, dims),
      });
    } catch (e) {
      // The model of a published index fails on this input: the index is broken (503), not the request.
      throw new FormatError("invalid_object", `query model failed to run: ${(e as Error).message}`, { cause: e });
    }
    const embedding = out.embedding;
    if (!embedding || embedding.dims[1] !== opts.dim) {
      throw new FormatError("invalid_object", `query model output "embedding" expected [1, ${opts.dim}], got ${embedding?.dims}`);
    }
    return new Float32Array(embedding.data as Float32Array);
  }

  /** Encodes with the session held: a dispose during the call releases it only after. */
  async function encode(text: string, cache?: VectorCache): Promise<EncodedQuery> {
    if (disposed) throw new EncoderReleasedError("query encoder used after it was released");
    running++;
    try {
      return await lookupOrRun(text, cache);
    } finally {
      if (--running === 0 && disposed) release();
    }
  }

  /** The vector of the query's token ids: remembered by this isolate, else by the colo, else from the model. */
  async function lookupOrRun(text: string, cache?: VectorCache): Promise<EncodedQuery> {
    const all = tokenizer.encode(text);
    const ids = all.slice(0, opts.maxTokens);
    const meta = { tokens: ids.length, truncated: all.length > opts.maxTokens };
    const key = ids.join(".");
    const hit = memo.get(key);
    if (hit) return { vector: hit, ...meta, from: "isolate" };
    const url = `https://i3-edge.cache/qvec/${opts.modelSha256}/${opts.maxTokens}/${key}`;
    const coloCache = cache?.colo;
    const colo = coloCache && (await cache.slot(() => coloCache.match(url)));
    if (colo) {
      const v = new Float32Array(await colo.arrayBuffer());
      if (v.length === opts.dim) {
        remember(key, v);
        return { vector: v, ...meta, from: "colo" };
      }
    }
    const vector = await run(ids);
    remember(key, vector);
    if (coloCache) {
      const res = new Response(vector.slice().buffer, { headers: { "cache-control": "public, max-age=31536000, immutable" } });
      cache.defer(cache.slot(() => coloCache.put(url, res)));
    }
    return { vector, ...meta, from: "model" };
  }

  return {
    tokenizer,
    dim: opts.dim,
    encode,
    dispose() {
      if (disposed) return;
      disposed = true;
      memo.clear();
      if (running === 0) release();
    },
  };

}
