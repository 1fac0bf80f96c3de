import { binaryScore, binaryTables } from "./score";
import { int8Score, quantizeQuery } from "./kernels/quantize-query";
import type { Manifest } from "../format";
import type { DocFilter } from "./filter";
import { createTopK } from "./topk";
import { lowerBound } from "./lower-bound";

/** What the scorer needs from a decoded vector shard (see src/format/shard.ts). */
export interface ShardVectors {
  count: number;
  dims: number;
  vectors: Int8Array;
  scales: Float32Array;
  codes: Uint8Array;
  ordinals: Uint32Array;
}

export interface SearchOptions {
  /** Documents to return. */
  k: number;
  /**
   * Passages kept by the binary first pass and rescored exactly with int8. 0, or at least the number of
   * passages, scores every passage exactly with int8.
   */
  rescore: number;
  /** Only documents the filter matches are ranked (their passages alone are scored). */
  filter?: DocFilter;
}

export interface DocHit {
  /** Document ordinal (index into the doc store). */
  ordinal: number;
  /** The document's score: the best score of its passages. */
  score: number;
}

/**
 * Top-k documents for a query over the given shards. A document scores as its best passage.
 * With `rescore` below the passage count, a binary pass (q · sign(x)) picks candidate passages first.
 * With a `filter`, passages of other documents are skipped before either pass.
 */
export function searchShards(query: Float32Array, shards: ShardVectors[], opts: SearchOptions): DocHit[] {
  const total = shards.reduce((n, s) => n + s.count, 0);
  const filter = opts.filter;
  const q = quantizeQuery(query); // the int8 score of the kernels (a partitioned index's scan): one definition
  const best = new Map<number, number>();
  const keep = (ordinal: number, score: number) => {
    const prev = best.get(ordinal);
    if (prev === undefined || score > prev) best.set(ordinal, score);
  };

  if (opts.rescore <= 0 || opts.rescore >= total) {
    for (const s of shards) {
      for (let i = 0; i < s.count; i++) if (!filter || filter.has(s.ordinals[i])) keep(s.ordinals[i], int8Score(q, s.vectors, s.scales, i));
    }
  } else {
    const table = binaryTables(query);
    const candidates = createTopK(opts.rescore);
    shards.forEach((s, si) => {
      const bytes = Math.ceil(s.dims / 8);
      for (let i = 0; i < s.count; i++) {
        if (filter && !filter.has(s.ordinals[i])) continue;
        const score = binaryScore(table, s.codes, bytes, i);
        if (score > candidates.threshold()) candidates.push(si * 0x4000_0000 + i, score);
      }
    });
    for (const { id } of candidates.sorted()) {
      const s = shards[Math.floor(id / 0x4000_0000)];
      const i = id % 0x4000_0000;
      keep(s.ordinals[i], int8Score(q, s.vectors, s.scales, i));
    }
  }

  const top = createTopK(opts.k);
  for (const [ordinal, score] of best) top.push(ordinal, score);
  return top.sorted().map(({ id, score }) => ({ ordinal: id, score }));
}

/**
 * The exact score of each listed document: its best passage by int8 inner product (no binary pass), as a
 * rescored passage gets in searchShards. Hybrid fusion uses it for candidates that only the lexical side found.
 * Documents without a passage in these shards are absent from the map. A shard whose doc ordinals ascend (what
 * `i3 build` writes: passages in corpus order) is searched by binary search per document; any other is scanned.
 *
 * @example
 * const scores = scoreDocuments(queryVector, shards, [17, 4242]);
 */
export function scoreDocuments(query: Float32Array, shards: ShardVectors[], ordinals: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  if (ordinals.length === 0) return out;
  const q = quantizeQuery(query);
  const keep = (s: ShardVectors, i: number) => {
    const o = s.ordinals[i];
    const score = int8Score(q, s.vectors, s.scales, i);
    const prev = out.get(o);
    if (prev === undefined || score > prev) out.set(o, score);
  };
  let wanted: Set<number> | undefined;
  for (const s of shards) {
    if (ascending(s.ordinals)) {
      for (const o of ordinals) {
        for (let i = lowerBound(s.ordinals, o); i < s.count && s.ordinals[i] === o; i++) keep(s, i);
      }
    } else {
      wanted ??= new Set(ordinals);
      for (let i = 0; i < s.count; i++) if (wanted.has(s.ordinals[i])) keep(s, i);
    }
  }
  return out;
}

const sortedness = new WeakMap<Uint32Array, boolean>();

/** Whether the ordinals never decrease (computed once per decoded shard). */
function ascending(a: Uint32Array): boolean {
  let known = sortedness.get(a);
  if (known === undefined) {
    known = true;
    for (let i = 1; i < a.length && known; i++) known = a[i - 1] <= a[i];
    sortedness.set(a, known);
  }
  return known;
}

/** The dense side of one query as hybrid search uses it: the top documents, and the score of any other one. */
export interface DenseResult {
  hits: DocHit[];
  /** Partitioned indexes: the partitions scanned (more than the probe when a filter widened the scan). */
  probed?: number[];
  scores(ordinals: number[]): Map<number, number>;
}

/**
 * Top `k` documents (searchShards; of those `filter` matches) plus scoreDocuments for candidates only the lexical side found.
 *
 * @example
 * const dense = (n: number) => denseResult(queryVector, shards, n, manifest.search.rescore);
 */
export function denseResult(query: Float32Array, shards: ShardVectors[], k: number, rescore: number, filter?: DocFilter): DenseResult {
  return { hits: searchShards(query, shards, { k, rescore, filter }), scores: (ordinals) => scoreDocuments(query, shards, ordinals) };
}

/** The theoretical minimum of an index's dense score: -1 for unit vectors; undefined otherwise (no bound). */
export function denseFloor(m: Pick<Manifest, "vectors">): number | undefined {
  return m.vectors.normalized && m.vectors.metric === "ip" ? -1 : undefined;
}
