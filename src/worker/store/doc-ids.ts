// Documents by id: the id index of a version (src/format/id-index.ts), one small bucket per lookup, read on first
// use (colo cache, else R2, checked against its sha256) and kept in the isolate cache.
import { decodeIdBucket, FormatError, idBucketOf, isDeleted, type IdBucket, type IdIndex } from "../../format";
import type { ByteCache } from "./byte-cache";
import type { LoadedIndex } from "./loaded-index";
import { cachedObject } from "./r2";
import type { Storage } from "./storage";

/**
 * The ordinal of document `docId` in a version: null when it has none (or it was deleted); undefined when the version
 * has no id index (built before manifest 2.1). An updated version looks in its delta first (the newest copy of a
 * document), then in the base, whose deleted and replaced documents are tombstoned. Throws FormatError on a corrupt
 * bucket.
 */
export async function ordinalOf(s: Storage, cache: ByteCache, idx: LoadedIndex, docId: string): Promise<number | null | undefined> {
  const ids = idx.manifest.docs.ids;
  if (!ids) return undefined;
  const d = idx.manifest.delta;
  if (d) {
    const local = await lookUp(s, cache, idx, d.docs.ids, d.documents, docId);
    if (local !== null) return d.first + local;
  }
  const o = await lookUp(s, cache, idx, ids, idx.manifest.corpus.documents, docId);
  return o !== null && idx.tombstones && isDeleted(idx.tombstones, o) ? null : o;
}

/** The ordinal of `docId` in one segment's id index (of `documents` documents), or null. */
async function lookUp(s: Storage, cache: ByteCache, idx: LoadedIndex, ids: IdIndex, documents: number, docId: string): Promise<number | null> {
  const b = idBucketOf(docId, ids.buckets.length);
  const ref = ids.buckets[b];
  const bucket = await cachedObject(s, cache, idx.tenant, idx.index, ref, (bytes): IdBucket => {
    const d = decodeIdBucket(bytes, documents);
    if (d.id !== b || d.buckets !== ids.buckets.length || d.ordinals.size !== ref.count) {
      throw new FormatError("invalid_object", `id bucket ${ref.path}: header says ${d.id} of ${d.buckets} with ${d.ordinals.size} ids, manifest ${b} of ${ids.buckets.length} with ${ref.count}`);
    }
    return d;
  }, 3);
  return bucket.ordinals.get(docId) ?? null;
}
