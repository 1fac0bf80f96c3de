import { createTopK } from "../topk";
import type { Arena } from "./arena";
import { checkRange } from "./bounds";
import type { KernelExports } from "./wasm-kernels";

const HIST_BYTES = 16384;

/**
 * The rows of the k highest of `count` f32 scores at arena offset `scores`, in ascending row order (ties: the
 * lower rows). wasm: a histogram pass picks the rows above the k-th score's bucket and the few in it, and JS keeps
 * the best of that bucket; the JS reference finds the k-th score with createTopK.
 */
export function selectTop(k: KernelExports | undefined, arena: Arena, scores: number, count: number, want: number): Uint32Array {
  checkRange(arena, "scores", scores, 4 * count, 4);
  if (want >= count) return Uint32Array.from({ length: count }, (_, i) => i);
  if (want <= 0) return new Uint32Array(0);
  return k ? wasmSelect(k, arena, scores, count, want) : referenceSelect(arena.f32At(scores, count), want);
}

function wasmSelect(k: KernelExports, arena: Arena, scores: number, count: number, want: number): Uint32Array {
  const scratch = arena.alloc(HIST_BYTES + 4 * count);
  try {
    const rows = scratch + HIST_BYTES;
    const [above, ties] = k.select_top(scores, count, want, scratch, rows);
    const picked = arena.u32At(rows, above + ties);
    const out = new Uint32Array(want);
    out.set(picked.subarray(0, above));
    if (above < want) {
      const s = arena.f32At(scores, count);
      const best = Array.from(picked.subarray(above)).sort((a, b) => s[b] - s[a] || a - b);
      out.set(best.slice(0, want - above), above);
    }
    return out.sort();
  } finally {
    arena.free(scratch);
  }
}

/** The k-th largest score by createTopK, then the rows above it and, in row order, as many at it as fit. */
function referenceSelect(scores: Float32Array, want: number): Uint32Array {
  const top = createTopK(want);
  for (let i = 0; i < scores.length; i++) top.push(i, scores[i]);
  const kth = top.sorted()[want - 1].score;
  let ties = want;
  for (const s of scores) if (s > kth) ties--;
  const out = new Uint32Array(want);
  let n = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] > kth || (scores[i] === kth && ties-- > 0)) out[n++] = i;
  }
  return out;
}
