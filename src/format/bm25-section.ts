// The manifest's `lexical` section (since manifest 1.1): the BM25 inverted index of src/format/bm25.ts, its
// analyzer and parameters, and the search defaults that go with it.
import * as z from "zod";
import { int, nonEmpty, num, reject, U32 } from "./fields.ts";
import { counted, namedByHash, objectRefFields, objectRefOf } from "./objects.ts";

/** Search defaults: request mode, fusion and candidates taken from each side. */
const FusionSchema = z.object({
  mode: z.enum(["rrf", "weighted"]),
  k: num(0),
  weight: num(0, 1),
  depth: int(1, 10_000),
  /** That of weighted fusion (src/search/fusion.ts). Since 1.2; absent, as in 1.1, reads as the per-list min-max
   * that 1.1 weights were tuned for. */
  normalization: z.enum(["tmm", "minmax"]).default("minmax"),
});

/** The `lexical` section; `documents` and the norms' count equal `corpus.documents` (a manifest rule). */
export const LexicalSectionSchema = z
  .object({
    /** The analyzer documents were indexed with; queries must use the same (src/text/analyzer.ts). */
    analyzer: z.object({ name: nonEmpty, version: int(0, 0xffff) }),
    bm25: z.object({ k1: num(0), b: num(0, 1) }),
    /** Documents indexed (= corpus.documents), their mean length in terms (exact), distinct terms. */
    documents: int(0, U32),
    avgDocLength: num(0),
    terms: int(0, U32),
    /** How a term picks its bucket: fnv1a32(utf8(term)) % buckets.length. */
    hash: z.literal("fnv1a32"),
    /** Bucket objects, bucket i at index i (count = terms in it). */
    buckets: z.array(objectRefOf("lexical", { counted: true }), { error: "a non-empty array" }).min(1, { error: "a non-empty array" }),
    /** Doc-length object (count = documents), one byte per document. */
    norms: z.object({ ...objectRefFields("lexical"), encoding: z.literal("lucene-byte4") }).superRefine(namedByHash).superRefine(counted),
    fusion: FusionSchema,
    defaultMode: z.enum(["dense", "lexical", "hybrid"]),
  })
  .superRefine((s, ctx) => {
    const terms = s.buckets.reduce((t, b) => t + (b.count ?? 0), 0);
    if (terms !== s.terms) reject(ctx, ["buckets"], `counts summing to terms ${s.terms}`, terms);
  });

/** The manifest's `lexical` section, as parsed (`fusion.normalization` always set). */
export type LexicalSection = z.output<typeof LexicalSectionSchema>;
