/**
 * Token ids -> ONNX input tensors (shared by the offline encoder and the worker; no Node APIs).
 *
 * Contract (docs/ARCHITECTURE.md): `input_ids` and `attention_mask` int64 [B, L], right padded with 0,
 * attention 1 = token / 0 = padding, ids truncated to the first `maxLen`. L = the longest row after
 * truncation (at least 1, so an empty batch row still gives a valid tensor).
 */
export interface EncoderInputs {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  dims: [number, number];
}

export function toInputs(batch: number[][], maxLen: number): EncoderInputs {
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new Error(`toInputs: maxLen must be a positive integer, got ${maxLen}`);
  const B = batch.length;
  let L = 1;
  for (const row of batch) L = Math.max(L, Math.min(row.length, maxLen));
  const inputIds = new BigInt64Array(B * L);
  const attentionMask = new BigInt64Array(B * L);
  for (let i = 0; i < B; i++) {
    const row = batch[i];
    const n = Math.min(row.length, maxLen);
    const base = i * L;
    for (let j = 0; j < n; j++) {
      inputIds[base + j] = BigInt(row[j]);
      attentionMask[base + j] = 1n;
    }
  }
  return { inputIds, attentionMask, dims: [B, L] };
}
