// An incrementally updated version searched as one index: the base segment and the delta segment (manifest 3.0,
// src/format/delta-section.ts). Delta documents follow the base's (ordinal = delta.first + local ordinal); the delta's
// vectors are scanned with the base's (vector-index.ts), its BM25 postings with the base's (bm25.ts). The base
// documents the delta replaced or that were deleted (the tombstones) are skipped on every side, as documents a filter
// rejects are: these make the filters. The worker and the offline search both read a version through them.
import type { Manifest, Tombstones } from "../format";
import { docFilter, type DocFilter } from "./filter.ts";

/** The shape of a manifest's version, with its decoded tombstones (absent: none). */
export function versionDocs(m: Pick<Manifest, "corpus" | "delta">, tombstones: Tombstones | undefined): VersionDocs {
  return { base: m.corpus.documents, delta: m.delta?.documents ?? 0, tombstones };
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
  // Every document's bit, then the tombstones' cleared, a word at a time (the tombstones have no bit past the base).
  const bits = new Uint32Array((n + 31) >>> 5).fill(0xffffffff);
  if (n & 31) bits[bits.length - 1] = (1 << (n & 31)) - 1;
  const t = v.tombstones.bits;
  for (let w = 0; w < t.length; w++) bits[w] &= ~t[w];
  return docFilter(bits, n, { deletionsOnly: true });
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
