import type { Tokenizer } from "../../text/tokenizer";
import { ort } from "./ort-web";
import { toInputs } from "../../text/tensors";

/** Encodes one query into the vector space of the index (the query tower of the model). */
export interface QueryEncoder {
  encode(text: string): Promise<{ vector: Float32Array; tokens: number; truncated: boolean }>;
  dim: number;
}

/**
 * Wraps an ORT session and the tokenizer of its model. `maxTokens` is the query window the model was
 * trained with; longer queries are truncated to their first `maxTokens` ids (and say so).
 */
export function createQueryEncoder(
  session: ort.InferenceSession,
  tokenizer: Tokenizer,
  opts: { maxTokens: number; dim: number },
): QueryEncoder {
  return {
    dim: opts.dim,
    async encode(text) {
      const ids = tokenizer.encode(text);
      const { inputIds, attentionMask, dims } = toInputs([ids], opts.maxTokens);
      const out = await session.run({
        input_ids: new ort.Tensor("int64", inputIds, dims),
        attention_mask: new ort.Tensor("int64", attentionMask, dims),
      });
      const embedding = out.embedding;
      if (!embedding || embedding.dims[1] !== opts.dim) {
        throw new Error(`query model output "embedding" expected [1, ${opts.dim}], got ${embedding?.dims}`);
      }
      return {
        vector: new Float32Array(embedding.data as Float32Array),
        tokens: Math.min(ids.length, opts.maxTokens),
        truncated: ids.length > opts.maxTokens,
      };
    },
  };
}
