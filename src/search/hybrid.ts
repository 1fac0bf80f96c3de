// The search modes of an index, shared by the worker route and `npm run eval --index`:
//  - dense: the vector search (top k);
//  - lexical: BM25 (top k); a query with no indexed term falls back to dense;
//  - hybrid: `depth` candidates from each side, fused (src/search/fusion.ts), top k.
import { fuse, type FusedHit, type Fusion } from "./fusion";
import type { LexicalResult } from "./lexical";
import type { DocHit } from "./search";

export type SearchMode = "dense" | "lexical" | "hybrid";

export interface HybridInput {
  mode: SearchMode;
  k: number;
  /** Candidates taken from each side in hybrid mode (at least k are taken). */
  depth: number;
  fusion: Fusion;
  dense: (n: number) => Promise<DocHit[]>;
  /** Absent when the index has no (usable) lexical section. */
  lexical?: (n: number) => Promise<LexicalResult>;
}

export interface HybridResult {
  /** The mode that produced the hits ("dense" when a lexical query matched nothing). */
  mode: SearchMode;
  hits: FusedHit[];
  lexical?: { terms: number; matched: number };
}

const only = (side: "dense" | "lexical", hits: DocHit[]): FusedHit[] =>
  hits.map((h) => ({ ordinal: h.ordinal, score: h.score, scores: { [side]: h.score } }));

/**
 * Runs one search in the requested mode.
 *
 * @example
 * const r = await searchHybrid({ mode: "hybrid", k: 10, depth: 100, fusion: { mode: "rrf", k: 60 }, dense, lexical });
 */
export async function searchHybrid(input: HybridInput): Promise<HybridResult> {
  const { mode, k } = input;
  if (mode === "dense" || !input.lexical) return { mode: "dense", hits: only("dense", await input.dense(k)) };
  if (mode === "lexical") {
    const lex = await input.lexical(k);
    const info = { terms: lex.terms, matched: lex.matched };
    if (lex.hits.length === 0) return { mode: "dense", hits: only("dense", await input.dense(k)), lexical: info };
    return { mode: "lexical", hits: only("lexical", lex.hits), lexical: info };
  }
  const n = Math.max(k, input.depth);
  const [dense, lex] = await Promise.all([input.dense(n), input.lexical(n)]);
  return { mode: "hybrid", hits: fuse(dense, lex.hits, input.fusion).slice(0, k), lexical: { terms: lex.terms, matched: lex.matched } };
}
