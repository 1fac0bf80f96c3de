// The search modes of an index, shared by the worker route and `npm run eval --index`:
//  - dense: the vector search (top k);
//  - lexical: BM25 (top k); a query with no indexed term falls back to dense;
//  - hybrid: `depth` candidates from each side, fused (src/search/fusion.ts), top k.
import type { LexicalSection } from "../format";
import { fuse, type CompleteScores, type FusedHit, type Fusion, type Normalization } from "./fusion";
import type { LexicalResult } from "./bm25";
import type { DenseResult, DocHit } from "./dense";

export type SearchMode = "dense" | "lexical" | "hybrid";

export interface HybridInput {
  mode: SearchMode;
  k: number;
  /** Results of the ranking skipped before the k returned (paging; default 0). */
  offset?: number;
  /** Candidates taken from each side in hybrid mode (at least HYBRID_MIN_WINDOW are taken: `hybridWindow`). */
  depth: number;
  fusion: Fusion;
  /** Top n by the dense side, and (for "tmm" fusion) the dense score of any other document. */
  dense: (n: number) => Promise<DenseResult>;
  /** Theoretical minimum of a dense score (-1 for unit vectors); absent: the candidates' minimum. */
  denseFloor?: number;
  /** Absent when the index has no (usable) lexical section. */
  lexical?: (n: number) => Promise<LexicalResult>;
}

export interface HybridResult {
  /** The mode that produced the hits ("dense" when a lexical query matched nothing). */
  mode: SearchMode;
  hits: FusedHit[];
  lexical?: { terms: number; matched: number; dropped: number };
}

/** Candidates per side a hybrid search fuses at least (the API's largest k): every k of a request ranks the same. */
export const HYBRID_MIN_WINDOW = 100;

/**
 * Candidates each side gives a hybrid search: max(depth, HYBRID_MIN_WINDOW), whatever k and offset, so the fused
 * order is one order and its pages agree. A hybrid page must end within it (offset + k <= window): deeper, the
 * candidates would change and with them the order.
 */
export function hybridWindow(depth: number): number {
  return Math.max(depth, HYBRID_MIN_WINDOW);
}

/** What a request may name; what it leaves out comes from the index (`manifest.lexical`). */
export interface SearchOptionsRequest {
  mode?: SearchMode;
  fusion?: "rrf" | "weighted";
  weight?: number;
  normalization?: Normalization;
}

/**
 * The mode, fusion and depth of a search: the request's, else the index's defaults, else dense with RRF(60) over
 * 100 candidates. The worker and `npm run eval --index` both resolve through here.
 */
export function searchOptions(section: LexicalSection | undefined, req: SearchOptionsRequest = {}): { mode: SearchMode; fusion: Fusion; depth: number } {
  const d = section?.fusion;
  const kind = req.fusion ?? d?.mode ?? "rrf";
  const fusion: Fusion = kind === "rrf"
    ? { mode: "rrf", k: d?.k ?? 60 }
    : { mode: "weighted", weight: req.weight ?? d?.weight ?? 0.5, normalization: req.normalization ?? d?.normalization ?? "tmm" };
  return { mode: req.mode ?? section?.defaultMode ?? "dense", fusion, depth: d?.depth ?? 100 };
}

const only = (side: "dense" | "lexical", hits: DocHit[]): FusedHit[] =>
  hits.map((h) => ({ ordinal: h.ordinal, score: h.score, scores: { [side]: h.score } }));

/**
 * Runs one search in the requested mode: the results at ranks offset + 1 .. offset + k of one order (score
 * descending, ties by lower doc ordinal), so consecutive pages of the same version never overlap or skip.
 *
 * @example
 * const r = await searchHybrid({ mode: "hybrid", k: 10, depth: 100, fusion: { mode: "rrf", k: 60 }, dense, lexical });
 */
export async function searchHybrid(input: HybridInput): Promise<HybridResult> {
  const { mode } = input;
  const offset = input.offset ?? 0;
  const end = offset + input.k;
  const page = <T>(hits: T[]) => hits.slice(offset, end);
  const denseHits = async (n: number) => only("dense", (await input.dense(n)).hits);
  if (mode === "dense" || !input.lexical) return { mode: "dense", hits: page(await denseHits(end)) };
  if (mode === "lexical") {
    const lex = await input.lexical(end);
    lex.release(); // its hits are all this mode needs
    const info = { terms: lex.terms, matched: lex.matched, dropped: lex.dropped };
    if (lex.hits.length === 0) return { mode: "dense", hits: page(await denseHits(end)), lexical: info };
    return { mode: "lexical", hits: page(only("lexical", lex.hits)), lexical: info };
  }
  const n = Math.max(end, hybridWindow(input.depth));
  const [dense, lex] = await Promise.all([input.dense(n), input.lexical(n)]);
  const all: CompleteScores = { dense: (o) => dense.scores(o), lexical: (o) => lex.score(o), denseFloor: input.denseFloor };
  const hits = fuse(dense.hits, lex.hits, input.fusion, all);
  lex.release(); // fused: its scores are read no more
  return { mode: "hybrid", hits: page(hits), lexical: { terms: lex.terms, matched: lex.matched, dropped: lex.dropped } };
}
