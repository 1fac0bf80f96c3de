// Exact top-k by inner product over float32 rows, on onnxruntime-node's GEMM (offline only): the assignment step of
// k-means, a passage's nearest centroids, and the exact float32 ground truth the partition plan is measured against.
import * as ort from "onnxruntime-node";
import { topKInnerProductModel } from "./onnx-graph.ts";

export interface TopK {
  /** [rows * k] best first */
  scores: Float32Array;
  /** [rows * k] row indices into the searched set, best first */
  indices: Int32Array;
  k: number;
}

export interface TopKIp {
  /**
   * For each of the `rows` query rows of `x`, the `k` rows of `c` (`cRows` of them) with the largest inner product.
   * `c` is searched in chunks of at most `chunkRows` so any number of rows fits in memory.
   */
  search(x: Float32Array, rows: number, c: Float32Array, cRows: number, k: number): Promise<TopK>;
  close(): Promise<void>;
}

const CHUNK_ROWS = 65_536;
const BATCH_ROWS = 1024;

export async function createTopKIp(dims: number, opts: { threads?: number; chunkRows?: number } = {}): Promise<TopKIp> {
  const chunkRows = opts.chunkRows ?? CHUNK_ROWS;
  const session = await ort.InferenceSession.create(topKInnerProductModel(dims), {
    executionProviders: ["cpu"],
    ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
  });

  async function run(x: Float32Array, rows: number, c: Float32Array, cRows: number, k: number) {
    const out = await session.run({
      x: new ort.Tensor("float32", x, [rows, dims]),
      c: new ort.Tensor("float32", c, [cRows, dims]),
      k: new ort.Tensor("int64", BigInt64Array.from([BigInt(k)]), [1]),
    });
    return { scores: out.scores.data as Float32Array, indices: out.indices.data as BigInt64Array };
  }

  return {
    async search(x, rows, c, cRows, k) {
      if (k < 1 || k > cRows) throw new RangeError(`topk: k must be in 1..${cRows}, got ${k}`);
      const scores = new Float32Array(rows * k).fill(-Infinity);
      const indices = new Int32Array(rows * k).fill(-1);
      for (let c0 = 0; c0 < cRows; c0 += chunkRows) {
        const cn = Math.min(chunkRows, cRows - c0);
        const chunk = c.subarray(c0 * dims, (c0 + cn) * dims);
        const kc = Math.min(k, cn);
        for (let r0 = 0; r0 < rows; r0 += BATCH_ROWS) {
          const rn = Math.min(BATCH_ROWS, rows - r0);
          const part = await run(x.subarray(r0 * dims, (r0 + rn) * dims), rn, chunk, cn, kc);
          for (let r = 0; r < rn; r++) mergeRow(scores, indices, (r0 + r) * k, k, part.scores, part.indices, r * kc, kc, c0);
        }
      }
      return { scores, indices, k };
    },
    close: () => session.release(),
  };
}

/** Merges a chunk's sorted top-kc (indices offset by `base`) into a row's sorted top-k, in place. */
function mergeRow(
  scores: Float32Array, indices: Int32Array, at: number, k: number,
  cs: Float32Array, ci: BigInt64Array, from: number, kc: number, base: number,
): void {
  if (base === 0) {
    for (let j = 0; j < kc; j++) {
      scores[at + j] = cs[from + j];
      indices[at + j] = Number(ci[from + j]);
    }
    return;
  }
  const s = scores.slice(at, at + k), ix = indices.slice(at, at + k);
  let a = 0, b = 0;
  for (let j = 0; j < k; j++) {
    if (b < kc && (a >= k || cs[from + b] > s[a])) {
      scores[at + j] = cs[from + b];
      indices[at + j] = base + Number(ci[from + b]);
      b++;
    } else {
      scores[at + j] = s[a];
      indices[at + j] = ix[a];
      a++;
    }
  }
}
