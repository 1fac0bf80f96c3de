// The id index of a build (src/format/id-index.ts): every document id with its ordinal, hashed into small buckets
// so the worker fetches one document by id with one small read.
import { decodeDocBlock, encodeIdBucket, idBucketCount, idBucketOf, type DocBlockRef, type IdIndex } from "../../src/format/index.ts";
import type { ObjectStore } from "./object-store.ts";

/**
 * Reads the doc blocks from `store` (in order) and writes the id buckets into it. Returns the manifest's
 * `docs.ids` (its buckets must also go into `manifest.objects`). Ids are unique (the corpus reader checks it).
 */
export async function writeIdIndex(store: ObjectStore, blocks: DocBlockRef[]): Promise<IdIndex> {
  const documents = blocks.reduce((n, b) => n + b.count, 0);
  const B = idBucketCount(documents);
  const groups: Array<Array<[string, number]>> = Array.from({ length: B }, () => []);
  for (const ref of blocks) {
    decodeDocBlock(await store.read(ref)).forEach((doc, i) => groups[idBucketOf(doc.id, B)].push([doc.id, ref.first + i]));
  }
  const buckets = [];
  for (let i = 0; i < B; i++) buckets.push(await store.write("ids", encodeIdBucket(i, B, groups[i]), { ext: "i3id", count: groups[i].length }));
  return { hash: "fnv1a32", buckets };
}
