// The manifest's `delta` section (manifest 3.0): the documents added or replaced since the base was built, written
// by an incremental update (`i3 build --base <dir> --upsert <jsonl> --delete <ids>`). It is one segment that holds
// every change since the base (each update rewrites it from the previous delta's rows and the new documents, so a
// query reads the base and one delta, never a chain). Its objects use the base's formats. Doc blocks, id buckets, BM25
// buckets and norms and field columns count the delta's documents from 0 (a delta document's ordinal in the version
// is `first` plus its local one); the vector shards' rows name version ordinals (ascending in each shard), so they are
// scanned beside the base's partitions as partitions are. The base's documents that the delta replaces or that were
// deleted are in `manifest.tombstones` (src/format/tombstones.ts).
import * as z from "zod";
import { int, isoTime, num, reject, U32 } from "./fields.ts";
import { IdIndexSchema } from "./id-index.ts";
import { counted, namedByHash, objectRefFields, objectRefOf, type ObjectRef } from "./objects.ts";

/** The delta's doc blocks: local ordinals first..first+count-1, contiguous from 0. */
const DeltaBlockSchema = z.object({ ...objectRefFields("docs"), count: int(0, U32), first: int(0, U32) }).superRefine(namedByHash);

/**
 * The BM25 objects of the delta's documents: the base's analyzer, parameters and bucket hash, its own buckets (terms
 * hashed over `buckets.length`) and norms. A query adds its document frequencies and lengths to the base's.
 */
const DeltaLexicalSchema = z
  .object({
    documents: int(0, U32),
    avgDocLength: num(0),
    terms: int(0, U32),
    buckets: z.array(objectRefOf("lexical", { counted: true }), { error: "a non-empty array" }).min(1, { error: "a non-empty array" }),
    norms: z.object({ ...objectRefFields("lexical"), encoding: z.literal("lucene-byte4") }).superRefine(namedByHash).superRefine(counted),
  })
  .superRefine((s, ctx) => {
    const terms = s.buckets.reduce((t, b) => t + (b.count ?? 0), 0);
    if (terms !== s.terms) reject(ctx, ["buckets"], `counts summing to terms ${s.terms}`, terms);
  });

/** The `delta` section; its counts are checked against each other and the base by the manifest rules. */
export const DeltaSectionSchema = z.object({
  /** Ordinal of the delta's document 0 in the version: the base's document count. */
  first: int(0, U32),
  documents: int(0, U32),
  passages: int(0, U32),
  /** Updates folded into this delta since the base (1 for the first). */
  updates: int(1, U32),
  /** When the last update was built. */
  updatedAt: isoTime,
  /** int8 vector shards of the delta's passages (rows name version ordinals, ascending): every query scans them all. */
  shards: z.array(objectRefOf("shard", { counted: true })),
  docs: z.object({ blocks: z.array(DeltaBlockSchema), ids: IdIndexSchema }),
  /** Present exactly when the base has a lexical section. */
  lexical: DeltaLexicalSchema.optional(),
  /** Present exactly when the base declares fields: the delta documents' columns (count = documents). */
  fields: z.object({ columns: objectRefOf("fields", { counted: true }) }).optional(),
});

/** The manifest's `delta` section, as parsed. */
export type DeltaSection = z.output<typeof DeltaSectionSchema>;
/** The delta's BM25 objects. */
export type DeltaLexical = NonNullable<DeltaSection["lexical"]>;

/** Every object of a delta, each with the path under which the manifest section names it (for `manifest.objects`). */
export function deltaObjects(d: DeltaSection): Array<{ at: Array<string | number>; ref: ObjectRef }> {
  const refs: Array<{ at: Array<string | number>; ref: ObjectRef }> = [];
  d.shards.forEach((ref, i) => refs.push({ at: ["delta", "shards", i], ref }));
  d.docs.blocks.forEach(({ first: _, ...ref }, i) => refs.push({ at: ["delta", "docs", "blocks", i], ref }));
  d.docs.ids.buckets.forEach((ref, i) => refs.push({ at: ["delta", "docs", "ids", "buckets", i], ref }));
  if (d.lexical) {
    d.lexical.buckets.forEach((ref, i) => refs.push({ at: ["delta", "lexical", "buckets", i], ref }));
    const { encoding: _, ...norms } = d.lexical.norms;
    refs.push({ at: ["delta", "lexical", "norms"], ref: norms });
  }
  if (d.fields) refs.push({ at: ["delta", "fields", "columns"], ref: d.fields.columns });
  return refs;
}
