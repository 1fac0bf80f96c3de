// `--shard k/n`: slice k of n is the contiguous document range [floor((k-1)N/n), floor(kN/n)) of the corpus
// (N = documents after --limit, counted by the validation pass every build makes first). Each slice is a standalone index with local
// doc ordinals 0..; its build-info.json records the global ordinal of its first document, and `i3 merge`
// renumbers by adding it. Contiguous ranges keep corpus order, so the merge of all slices re-chunks into exactly
// the shards and doc blocks of a single build (hash-mod slicing would scramble ordinals and need a sort).
import { UsageError } from "../command.ts";

export interface Slice {
  k: number;
  n: number;
}

/** Parses "k/n" (1 <= k <= n). */
export function parseSlice(s: string): Slice {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const k = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || k < 1 || k > n) throw new UsageError(`--shard: expected k/n with 1 <= k <= n (e.g. 1/4), got ${JSON.stringify(s)}`);
  return { k, n };
}

/** Global document range [first, end) of a slice; the whole corpus without one. */
export function sliceRange(documents: number, slice?: Slice): { first: number; end: number } {
  if (!slice) return { first: 0, end: documents };
  return { first: Math.floor(((slice.k - 1) * documents) / slice.n), end: Math.floor((slice.k * documents) / slice.n) };
}
