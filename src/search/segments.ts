// An incrementally updated version searched as one index: the base segment and the delta segment (manifest 3.0,
// src/format/delta-section.ts). Delta documents follow the base's (ordinal = delta.first + local ordinal), and the
// base documents the delta replaced or that were deleted (the tombstones) are skipped on every side, as documents a
// filter rejects are. The worker and the offline search both read a version through these.
import type { Tombstones } from "../format";
import { denseResult, type DenseResult, type DocHit, type ShardVectors } from "./dense.ts";
import { docFilter, type DocFilter } from "./filter.ts";
import { createTopK } from "./topk.ts";

/** A decoded delta shard with its rows' ordinals moved from the delta's own numbering to the version's. */
export function versionOrdinals<T extends ShardVectors>(shard: T, first: number): T {
  const ordinals = new Uint32Array(shard.count);
  for (let i = 0; i < shard.count; i++) ordinals[i] = shard.ordinals[i] + first;
  return { ...shard, ordinals };
}

/** The delta's side of a dense search: its shards (ordinals already the version's), scanned whole. */
export interface DeltaVectors {
  first: number;
  shards(): Promise<ShardVectors[]>;
  rescore: number;
}

/**
 * The base's dense result and the delta's, as one: the top `n` of both (score descending, ties by lower ordinal),
 * and each document's score from the segment that holds it.
 */
export function mergeDense(base: DenseResult, delta: DenseResult, first: number, n: number): DenseResult {
  const top = createTopK(n);
  for (const h of base.hits) top.push(h.ordinal, h.score);
  for (const h of delta.hits) top.push(h.ordinal, h.score);
  const hits: DocHit[] = top.sorted().map(({ id, score }) => ({ ordinal: id, score }));
  return {
    hits,
    probed: base.probed,
    scores: (ordinals) => {
      const inBase = ordinals.filter((o) => o < first);
      const inDelta = ordinals.filter((o) => o >= first);
      const out = base.scores(inBase);
      for (const [o, s] of delta.scores(inDelta)) out.set(o, s);
      return out;
    },
  };
}

/** Top `n` of the delta's documents for a query vector (of those `filter` matches). */
export async function searchDelta(query: Float32Array, delta: DeltaVectors, n: number, filter?: DocFilter): Promise<DenseResult> {
  return denseResult(query, await delta.shards(), n, delta.rescore, filter);
}

/** The shape of a version: its base's documents, the delta's, and the deleted base documents. */
export interface VersionDocs {
  base: number;
  delta: number;
  tombstones?: Tombstones;
}

/**
 * The documents a search of this version may return: every one but the deleted, as a DocFilter over the version's
 * ordinals; undefined when nothing is deleted (a search then needs no filter).
 */
export function liveDocuments(v: VersionDocs): DocFilter | undefined {
  if (!v.tombstones || v.tombstones.deleted === 0) return undefined;
  const n = v.base + v.delta;
  const bits = new Uint32Array((n + 31) >>> 5);
  for (let o = 0; o < n; o++) if (o >= v.base || (v.tombstones.bits[o >>> 5] & (1 << (o & 31))) === 0) bits[o >>> 5] |= 1 << (o & 31);
  return docFilter(bits, n);
}

/**
 * A filter's matches in the base and in the delta (each over its own documents) as one DocFilter over the version,
 * less the deleted documents.
 */
export function versionFilter(base: DocFilter, delta: DocFilter | undefined, v: VersionDocs): DocFilter {
  const n = v.base + v.delta;
  const bits = new Uint32Array((n + 31) >>> 5);
  bits.set(base.bits.subarray(0, Math.min(base.bits.length, bits.length)));
  if (delta) for (let o = 0; o < v.delta; o++) if (delta.has(o)) bits[(v.base + o) >>> 5] |= 1 << ((v.base + o) & 31);
  const t = v.tombstones;
  if (t) for (let w = 0; w < t.bits.length; w++) bits[w] &= ~t.bits[w];
  return docFilter(bits, n);
}
