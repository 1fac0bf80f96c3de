/**
 * In-memory BM25 (Lucene / Anserini flavour) over title + text.
 *
 * Tokenization (`tokenize`): Unicode lowercase, then NFKD and removal of combining marks (so "Café" -> "cafe",
 * "ﬁ" -> "fi", full-width digits -> ASCII), then the maximal runs of `[a-z0-9]`. Every other character,
 * including non-Latin letters (Greek, CJK, ...) that do not fold to ASCII, is a separator and is dropped. No
 * stemming, no stopwords. With `{ foldDiacritics: false }` the NFKD step is skipped ("café" -> "caf").
 *
 * Scoring: idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)), and per query term occurrence
 *   idf(t) * tf / (tf + k1 * (1 - b + b * dl / avgdl))
 * (Lucene >= 8 drops the constant (k1 + 1) factor from the numerator; rankings are unchanged by it).
 * Each distinct query term counts once (a query is a set of terms). This is what the reference numbers in
 * /work/shared/data/README.md use: counting repeats (Anserini's bag-of-words query boosts a term by its count)
 * gives scifact nDCG@10 0.661 instead of 0.659 and cranfield 0.328 instead of 0.323; `{ queryTermCounts: true }`
 * switches to that.
 * dl = number of tokens of the document (exact; Lucene stores a lossy 1-byte length, a tiny difference).
 * Only documents matching at least one query term are returned.
 */
import { topK } from "./topk.ts";

export interface Bm25Params {
  k1: number;
  b: number;
}
export const DEFAULT_BM25: Bm25Params = { k1: 0.9, b: 0.4 };

const COMBINING = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]/g;

export function tokenize(text: string, opts: { foldDiacritics?: boolean } = {}): string[] {
  let t = text.toLowerCase();
  if (opts.foldDiacritics !== false) t = t.normalize("NFKD").replace(COMBINING, "").toLowerCase();
  return t.match(/[a-z0-9]+/g) ?? [];
}

export interface Bm25Hit {
  doc: number;
  score: number;
}

export class Bm25Index {
  readonly params: Bm25Params;
  private readonly foldDiacritics: boolean;
  private readonly queryTermCounts: boolean;
  private readonly termIds = new Map<string, number>();
  private building: { docs: number[]; tfs: number[] }[] = [];
  private postDocs: Int32Array[] = [];
  private postTfs: Int32Array[] = [];
  private lengths: number[] = [];
  private norm: Float64Array | null = null;
  readonly ids: string[] = [];

  constructor(params: Partial<Bm25Params> = {}, opts: { foldDiacritics?: boolean; queryTermCounts?: boolean } = {}) {
    this.params = { ...DEFAULT_BM25, ...params };
    this.foldDiacritics = opts.foldDiacritics !== false;
    this.queryTermCounts = opts.queryTermCounts === true;
  }

  get size(): number {
    return this.ids.length;
  }

  /** Adds one document (call before `finish`). */
  add(id: string, text: string): void {
    if (this.norm) throw new Error("Bm25Index: add() after finish()");
    const doc = this.ids.length;
    this.ids.push(id);
    const toks = tokenize(text, { foldDiacritics: this.foldDiacritics });
    this.lengths.push(toks.length);
    const counts = new Map<number, number>();
    for (const tok of toks) {
      let t = this.termIds.get(tok);
      if (t === undefined) {
        t = this.building.length;
        this.termIds.set(tok, t);
        this.building.push({ docs: [], tfs: [] });
      }
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    for (const [t, c] of counts) {
      const p = this.building[t];
      p.docs.push(doc);
      p.tfs.push(c);
    }
  }

  /** Freezes postings into typed arrays and precomputes length norms. */
  finish(): this {
    this.postDocs = this.building.map((p) => Int32Array.from(p.docs));
    this.postTfs = this.building.map((p) => Int32Array.from(p.tfs));
    this.building = [];
    const n = this.lengths.length;
    const avgdl = n > 0 ? this.lengths.reduce((a, b) => a + b, 0) / n : 0;
    const { k1, b } = this.params;
    this.norm = new Float64Array(n);
    for (let i = 0; i < n; i++) this.norm[i] = k1 * (1 - b + (avgdl > 0 ? (b * this.lengths[i]) / avgdl : 0));
    this.acc = new Float64Array(n);
    return this;
  }

  idf(term: string): number {
    const t = this.termIds.get(term);
    const df = t === undefined ? 0 : this.postDocs[t].length;
    const n = this.ids.length;
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  private acc: Float64Array = new Float64Array(0);

  /** Top k documents for a query (doc indices into `ids`), best first. */
  search(query: string, k: number): Bm25Hit[] {
    if (!this.norm) throw new Error("Bm25Index: search() before finish()");
    const qtf = new Map<number, number>();
    for (const tok of tokenize(query, { foldDiacritics: this.foldDiacritics })) {
      const t = this.termIds.get(tok);
      if (t !== undefined) qtf.set(t, this.queryTermCounts ? (qtf.get(t) ?? 0) + 1 : 1);
    }
    const acc = this.acc;
    const norm = this.norm;
    const touched: number[] = [];
    const n = this.ids.length;
    for (const [t, c] of qtf) {
      const docs = this.postDocs[t];
      const tfs = this.postTfs[t];
      const df = docs.length;
      const w = c * Math.log(1 + (n - df + 0.5) / (df + 0.5));
      for (let i = 0; i < docs.length; i++) {
        const d = docs[i];
        const tf = tfs[i];
        if (acc[d] === 0) touched.push(d);
        acc[d] += (w * tf) / (tf + norm[d]);
      }
    }
    const top = topK(acc, k, touched);
    const out: Bm25Hit[] = [];
    for (const d of top) out.push({ doc: d, score: acc[d] });
    for (const d of touched) acc[d] = 0;
    return out;
  }
}
