// The manifest: one JSON document describing an index version and listing every object it needs.
// ManifestSchema validates a parsed JSON value into a Manifest (unknown fields, which newer minor versions may
// add, are ignored and dropped; any minor of major 1 is read); serializeManifest writes it with a fixed key order.
import * as z from "zod";
import { LexicalSectionSchema, type LexicalSection } from "./bm25-section.ts";
import { DeltaSectionSchema, type DeltaSection } from "./delta-section.ts";
import { FieldsSectionSchema, type FieldsSection } from "./fields-section.ts";
import type { FormatErrorCode } from "./errors.ts";
import { int, isoTime, nonEmpty, num, reject, sha256Field, U32 } from "./fields.ts";
import { stableStringify } from "./json.ts";
import { manifestRules } from "./manifest-rules.ts";
import { IdIndexSchema, type IdIndex } from "./id-index.ts";
import { counted, namedByHash, objectRefFields, objectRefOf, ObjectRefSchema, type ObjectRef } from "./objects.ts";
import { parseJson } from "./parse-json.ts";

/** The `format` field of every manifest. */
export const FORMAT_NAME = "i3-edge-index";
/**
 * Manifest version this build writes. 2.0 partitions the vectors (IVF): the worker loads the centroids at start and
 * a partition only when a query probes it; a 1.x worker, which would load every shard, refuses it. Readers take
 * majors 1 and 2, any minor (a newer minor only adds fields, which are dropped). 2.1 adds `fields` (filterable
 * metadata) `docs.ids` (documents by id) and the optional static query model (`model.static`).
 */
export const MANIFEST_VERSION = { major: 2, minor: 1 } as const;
/**
 * Manifest version of an incrementally updated index (one with `delta` or `tombstones`): 3.0, so that a 2.x reader,
 * which would drop those sections and serve deleted documents, refuses it. A build without updates is still 2.1.
 */
export const DELTA_MANIFEST_VERSION = { major: 3, minor: 0 } as const;
/** Majors this reader understands. */
export const READABLE_MAJORS = [1, 2, 3] as const;

const VersionSchema = z.object({
  /** Another major is refused (`unsupported_version`). */
  major: int(0, 0xffff).refine((major) => (READABLE_MAJORS as readonly number[]).includes(major), { error: READABLE_MAJORS.join(" or ") }),
  /** Any minor is read: a newer one only adds fields, which are dropped. */
  minor: int(0, 0xffff),
});

/**
 * The query encoder the index must be searched with; `tokenizerHash` is the vocab's sha256. Since 2.1, `static`: the
 * model's static query tier (src/format/static-query.ts), the same vector space without a transformer, and
 * `defaultEncoder`, the one a search runs when it names none. `graph: "optimized"`: the query model's graph was
 * optimized when the model was exported (onnxruntime's hardware-independent "extended" level), so a runtime loads it
 * with graph optimization off and gets the same outputs sooner (a cold isolate's first session). Added without a
 * minor version: a reader that drops it optimizes the graph again, to the same graph.
 */
const ModelSchema = z
  .object({
    name: nonEmpty,
    maxQueryTokens: int(1, 128),
    query: objectRefOf("model"),
    vocab: objectRefOf("vocab"),
    tokenizerHash: sha256Field,
    static: objectRefOf("static").optional(),
    defaultEncoder: z.enum(["model", "static"]).optional(),
    graph: z.literal("optimized").optional(),
  })
  .superRefine((m, ctx) => {
    if (m.tokenizerHash !== m.vocab.sha256) reject(ctx, ["tokenizerHash"], `the vocab sha256 ${m.vocab.sha256}`, m.tokenizerHash);
    if (m.defaultEncoder === "static" && !m.static) reject(ctx, ["defaultEncoder"], `"model" (the index has no static query model)`, m.defaultEncoder);
  });

/**
 * How documents were split into passages (tokens), and how passage scores become a doc score. `split: false` (since
 * 2.1; absent: overlapping windows) is one passage per document, its first window: an incremental update of a
 * published version encodes new documents the same way.
 */
const PassagesSchema = z
  .object({ window: int(1, U32), stride: int(1, U32), split: z.literal(false).optional(), docScore: z.literal("max") })
  .superRefine((p, ctx) => {
    if (p.stride > p.window) reject(ctx, ["stride"], `an integer in 1..${p.window}`, p.stride);
  });

/**
 * An IVF partition: its centroid (inline, or null with `manifest.centroids`; null for the single partition of a
 * flat index), its vector shards (2.0: one, whose rows are the partition's passages in ascending passage order),
 * and (2.0) its passages in half precision, row for row, for re-scoring the best candidates.
 */
const PartitionSchema = z.object({
  id: int(0, U32),
  centroid: z.array(z.number({ error: "a finite number" })).nullable(),
  shards: z.array(objectRefOf("shard", { counted: true })),
  refine: objectRefOf("refine", { counted: true }).optional(),
});

/**
 * How the partition plan was chosen at build time: recall@10 of the default probe (and refine) against exact
 * float32 search, on `queries` held-out query vectors of `source`.
 */
const PlanSchema = z.object({
  recallAt10: num(0).refine((r) => r <= 1, { error: "a number in 0..1" }),
  target: num(0).refine((r) => r <= 1, { error: "a number in 0..1" }),
  queries: int(0, U32),
  source: nonEmpty,
});

/** A doc block reference: an object of kind "docs" holding global doc ordinals first..first+count-1. */
const DocBlockRefSchema = z.object({ ...objectRefFields("docs"), count: int(0, U32), first: int(0, U32) }).superRefine(namedByHash);

/**
 * A manifest: the schema of its JSON, with the rules across its sections (src/format/manifest-rules.ts).
 * `parseManifest` gives its errors their codes.
 */
export const ManifestSchema = z
  .object({
    format: z.literal(FORMAT_NAME),
    version: VersionSchema,
    /** Index id. */
    id: nonEmpty,
    /** ISO 8601 build time. */
    createdAt: isoTime,
    corpus: z.object({ documents: int(0, U32), passages: int(0, U32), avgTokens: num(0) }),
    vectors: z.object({
      dim: int(1, 0xffff),
      quantization: z.literal("int8"),
      binary: z.boolean(),
      metric: z.literal("ip"),
      normalized: z.boolean(),
    }),
    model: ModelSchema,
    passages: PassagesSchema,
    partitions: z.array(PartitionSchema, { error: "a non-empty array" }).min(1, { error: "a non-empty array" }),
    /** Optional centroids object (float32 [partitions * dim]) in place of inline centroids. */
    centroids: objectRefOf("centroids").superRefine(counted).optional(),
    /** The doc blocks, and (since 2.1) the id index: document id -> ordinal (src/format/id-index.ts). */
    docs: z.object({ blocks: z.array(DocBlockRefSchema), ids: IdIndexSchema.optional() }),
    /** The BM25 inverted index (since 1.1; a 1.0 reader ignores it). See src/format/bm25-section.ts. */
    lexical: LexicalSectionSchema.optional(),
    /** Filterable fields (since 2.1; absent: none). See src/format/fields-section.ts. */
    fields: FieldsSectionSchema.optional(),
    /** Documents added or replaced since the base (since 3.0). See src/format/delta-section.ts. */
    delta: DeltaSectionSchema.optional(),
    /** Base documents deleted or replaced since the base (since 3.0; count = deleted). See src/format/tombstones.ts. */
    tombstones: objectRefOf("tombstones", { counted: true }).optional(),
    /**
     * Search defaults: results returned; candidates of the binary pass rescored with int8 (flat indexes);
     * partitions probed and candidates re-scored from refine rows (2.0, partitioned), with the plan behind them.
     */
    search: z.object({
      k: int(1, 10_000),
      rescore: int(1, 1_000_000),
      probe: int(1, U32).optional(),
      refine: int(0, 100_000).optional(),
      /**
       * The precision partitions are scanned at: int8 as stored (absent), or int4 derived from it at load (half the
       * kernel memory; only with refine rows, which re-score its best candidates). Added without a minor version: a
       * reader that drops it scans int8, a finer scan of the same rows.
       */
      scan: z.enum(["int8", "int4"]).optional(),
      plan: PlanSchema.optional(),
    }),
    /** Every object of the index. */
    objects: z.array(ObjectRefSchema),
  })
  .superRefine(manifestRules);

/** A validated manifest. */
export type Manifest = z.output<typeof ManifestSchema>;
/** An IVF partition of a manifest. */
export type Partition = z.output<typeof PartitionSchema>;
/** A doc block reference of a manifest. */
export type DocBlockRef = z.output<typeof DocBlockRefSchema>;

/**
 * The vector shards a flat index scans: its partitions' and, in an updated version, its delta's (whose rows name
 * version ordinals).
 */
export function flatShardRefs(m: Manifest): ObjectRef[] {
  return [...m.partitions.flatMap((p) => p.shards), ...(m.delta?.shards ?? [])];
}

/**
 * Validates a parsed manifest (types, ranges, cross-references) and returns it in canonical form.
 * Throws FormatError: `bad_magic` (not an i3-edge manifest), `unsupported_version` (another major),
 * `invalid_manifest` (anything else, naming the field, expected and actual).
 *
 * @example
 * const manifest = parseManifest(JSON.parse(await obj.text()));
 */
export function parseManifest(json: unknown): Manifest {
  return parseJson(ManifestSchema, json, "manifest", codeOf);
}

/** The code of a manifest's first issue: not a manifest, another major, or an invalid one. */
function codeOf(issue: z.core.$ZodIssue): FormatErrorCode {
  const at = issue.path.join(".");
  if (at === "format") return "bad_magic";
  if (at === "version.major" && issue.code === "custom") return "unsupported_version";
  return "invalid_manifest";
}

function ref(r: ObjectRef): ObjectRef {
  const out: ObjectRef = { path: r.path, kind: r.kind, bytes: r.bytes, sha256: r.sha256 };
  if (r.count !== undefined) out.count = r.count;
  return out;
}

function fieldsJson(f: FieldsSection) {
  return {
    schema: f.schema.map((x) => ({ name: x.name, type: x.type })),
    columns: ref(f.columns),
    partitionDocs: f.partitionDocs && ref(f.partitionDocs),
  };
}

function idsJson(ids: IdIndex) {
  return { hash: ids.hash, buckets: ids.buckets.map(ref) };
}

function deltaJson(d: DeltaSection) {
  return {
    first: d.first, documents: d.documents, passages: d.passages, updates: d.updates, updatedAt: d.updatedAt,
    shards: d.shards.map(ref),
    docs: { blocks: d.docs.blocks.map((b) => ({ ...ref(b), first: b.first })), ids: idsJson(d.docs.ids) },
    lexical: d.lexical && {
      documents: d.lexical.documents, avgDocLength: d.lexical.avgDocLength, terms: d.lexical.terms,
      buckets: d.lexical.buckets.map(ref), norms: { ...ref(d.lexical.norms), encoding: d.lexical.norms.encoding },
    },
    fields: d.fields && { columns: ref(d.fields.columns) },
  };
}

function lexicalJson(l: LexicalSection) {
  return {
    analyzer: { name: l.analyzer.name, version: l.analyzer.version },
    bm25: { k1: l.bm25.k1, b: l.bm25.b },
    documents: l.documents,
    avgDocLength: l.avgDocLength,
    terms: l.terms,
    hash: l.hash,
    buckets: l.buckets.map(ref),
    norms: { ...ref(l.norms), encoding: l.norms.encoding },
    fusion: { mode: l.fusion.mode, k: l.fusion.k, weight: l.fusion.weight, depth: l.fusion.depth, normalization: l.fusion.normalization },
    defaultMode: l.defaultMode,
  };
}

/**
 * Writes a manifest as JSON with a fixed key order (the same manifest always gives the same bytes, hence the
 * same version id). `parseManifest(JSON.parse(serializeManifest(m)))` equals `m`.
 *
 * @example
 * const text = serializeManifest(manifest);
 */
export function serializeManifest(m: Manifest): string {
  return stableStringify({
    format: m.format,
    version: { major: m.version.major, minor: m.version.minor },
    id: m.id,
    createdAt: m.createdAt,
    corpus: { documents: m.corpus.documents, passages: m.corpus.passages, avgTokens: m.corpus.avgTokens },
    vectors: { dim: m.vectors.dim, quantization: m.vectors.quantization, binary: m.vectors.binary, metric: m.vectors.metric, normalized: m.vectors.normalized },
    model: {
      name: m.model.name, maxQueryTokens: m.model.maxQueryTokens, query: ref(m.model.query), vocab: ref(m.model.vocab), tokenizerHash: m.model.tokenizerHash,
      static: m.model.static && ref(m.model.static), defaultEncoder: m.model.defaultEncoder, graph: m.model.graph,
    },
    passages: { window: m.passages.window, stride: m.passages.stride, split: m.passages.split, docScore: m.passages.docScore },
    partitions: m.partitions.map((p) => ({ id: p.id, centroid: p.centroid, shards: p.shards.map(ref), refine: p.refine && ref(p.refine) })),
    centroids: m.centroids && ref(m.centroids),
    docs: { blocks: m.docs.blocks.map((b) => ({ ...ref(b), first: b.first })), ids: m.docs.ids && idsJson(m.docs.ids) },
    lexical: m.lexical && lexicalJson(m.lexical),
    fields: m.fields && fieldsJson(m.fields),
    delta: m.delta && deltaJson(m.delta),
    tombstones: m.tombstones && ref(m.tombstones),
    search: {
      k: m.search.k, rescore: m.search.rescore, probe: m.search.probe, refine: m.search.refine, scan: m.search.scan,
      plan: m.search.plan && { recallAt10: m.search.plan.recallAt10, target: m.search.plan.target, queries: m.search.plan.queries, source: m.search.plan.source },
    },
    objects: m.objects.map(ref),
  });
}
