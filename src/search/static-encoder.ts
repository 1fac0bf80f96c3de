// The static query tier: a query vector with no transformer. Tokens -> their rows of the static table -> weighted sum
// -> L2 norm. Trained to land where the model's query tower lands (offline/train/static_train.py), so it searches
// the same index. Pure: the worker and `i3 eval` run this same code.
import type { StaticQueryModel } from "../format/static-query.ts";
import type { Tokenizer } from "../text/tokenizer/index.ts";

/** The query encoders an index may have: its query model (a transformer), or its static tier. */
export const QUERY_ENCODERS = ["model", "static"] as const;
export type EncoderChoice = (typeof QUERY_ENCODERS)[number];

/** A query vector and what the encoder read of the query. */
export interface StaticEncoded {
  vector: Float32Array;
  tokens: number;
  truncated: boolean;
}

/** Encodes query text (or token ids) with a static query model. */
export interface StaticEncoder {
  dim: number;
  encode(text: string): StaticEncoded;
  encodeIds(ids: readonly number[]): Float32Array;
}

/**
 * A static encoder over a decoded model and the model's tokenizer. Ids past `maxTokens` are dropped (and the answer
 * says so); an id outside the vocabulary counts as unk (0). A query whose weighted sum is zero gives the zero vector.
 *
 * @example
 * const enc = createStaticEncoder(decodeStaticQuery(bytes), createTokenizer(vocab));
 * const { vector } = enc.encode("vitamin D and bone density");
 */
export function createStaticEncoder(model: StaticQueryModel, tokenizer: Tokenizer): StaticEncoder {
  const { dims, vocab, maxTokens, table } = model;
  const coef = new Float32Array(vocab);
  for (let t = 0; t < vocab; t++) coef[t] = model.weights[t] * model.scales[t];

  function encodeIds(ids: readonly number[]): Float32Array {
    const v = new Float32Array(dims);
    const n = Math.min(ids.length, maxTokens);
    for (let i = 0; i < n; i++) {
      const id = ids[i];
      const t = id >= 0 && id < vocab ? id : 0;
      const c = coef[t];
      const row = t * dims;
      for (let d = 0; d < dims; d++) v[d] += c * table[row + d];
    }
    let norm = 0;
    for (let d = 0; d < dims; d++) norm += v[d] * v[d];
    if (norm > 0) {
      const inv = 1 / Math.sqrt(norm);
      for (let d = 0; d < dims; d++) v[d] *= inv;
    }
    return v;
  }

  return {
    dim: dims,
    encodeIds,
    encode(text) {
      const ids = tokenizer.encode(text);
      return { vector: encodeIds(ids), tokens: Math.min(ids.length, maxTokens), truncated: ids.length > maxTokens };
    },
  };
}
