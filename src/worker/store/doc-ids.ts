// Documents by id: the id index of a version (src/format/id-index.ts), one small bucket per lookup, read on first
// use (colo cache, else R2, checked against its sha256) and kept in the isolate cache.
import { decodeIdBucket, FormatError, idBucketOf, type IdBucket } from "../../format";
import type { ByteCache } from "./byte-cache";
import type { LoadedIndex } from "./loaded-index";
import { cachedObject } from "./r2";
import type { Storage } from "./storage";

/**
 * The ordinal of document `docId` in a version: null when it has none; undefined when the version has no id index
 * (built before manifest 2.1). Throws FormatError on a corrupt bucket.
 */
export async function ordinalOf(s: Storage, cache: ByteCache, idx: LoadedIndex, docId: string): Promise<number | null | undefined> {
  const ids = idx.manifest.docs.ids;
  if (!ids) return undefined;
  const b = idBucketOf(docId, ids.buckets.length);
  const ref = ids.buckets[b];
  const bucket = await cachedObject(s, cache, idx.tenant, idx.index, ref, (bytes): IdBucket => {
    const d = decodeIdBucket(bytes, idx.manifest.corpus.documents);
    if (d.id !== b || d.buckets !== ids.buckets.length || d.ordinals.size !== ref.count) {
      throw new FormatError("invalid_object", `id bucket ${ref.path}: header says ${d.id} of ${d.buckets} with ${d.ordinals.size} ids, manifest ${b} of ${ids.buckets.length} with ${ref.count}`);
    }
    return d;
  }, 3);
  return bucket.ordinals.get(docId) ?? null;
}
