// Documents by id: the id index of a version (src/format/id-index.ts), one small bucket per lookup, read on first
// use (colo cache, else R2, checked against its sha256) and kept in the isolate cache.
import { decodeIdBucket, FormatError, idBucketOf, objectKey, type IdBucket } from "../../format";
import type { ByteCache } from "./byte-cache";
import type { LoadedIndex } from "./loaded-index";
import { fetchVerified } from "./r2";
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
  const key = objectKey(idx.tenant, idx.index, ref.path);
  let bucket = cache.get<IdBucket>(key);
  if (!bucket) {
    const bytes = await fetchVerified(s, idx.tenant, idx.index, ref);
    bucket = decodeIdBucket(bytes, idx.manifest.corpus.documents);
    if (bucket.id !== b || bucket.buckets !== ids.buckets.length || bucket.ordinals.size !== ref.count) {
      throw new FormatError("invalid_object", `id bucket ${ref.path}: header says ${bucket.id} of ${bucket.buckets} with ${bucket.ordinals.size} ids, manifest ${b} of ${ids.buckets.length} with ${ref.count}`);
    }
    cache.set(key, bucket, 3 * bytes.byteLength + 64);
  }
  return bucket.ordinals.get(docId) ?? null;
}
