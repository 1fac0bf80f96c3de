// The rules of a manifest that span its sections (counts that add up, doc blocks contiguous, every referenced
// object listed in `objects`), checked once every field has its type. Paths are relative to the manifest.
import type * as z from "zod";
import { reject } from "./fields.ts";
import { INDEX_LIMITS } from "./limits.ts";
import { deltaObjects } from "./delta-section.ts";
import type { Manifest } from "./manifest.ts";
import type { ObjectRef } from "./objects.ts";

type Ctx = z.RefinementCtx;

/** Reports every broken cross-section rule of `m` on `ctx` (the schema's `superRefine`). */
export function manifestRules(m: Manifest, ctx: Ctx): void {
  centroidDims(m, ctx);
  lexicalDocuments(m, ctx);
  fieldCounts(m, ctx);
  partitions(m, ctx);
  docBlocks(m, ctx);
  delta(m, ctx);
  listedObjects(m, ctx);
  sizeLimits(m, ctx);
}

/** The index's objects within INDEX_LIMITS (each object's own size is checked by its reference's schema). */
function sizeLimits(m: Manifest, ctx: Ctx): void {
  const { maxObjects, maxIndexBytes } = INDEX_LIMITS;
  if (m.objects.length > maxObjects) reject(ctx, ["objects"], `at most ${maxObjects} objects`, m.objects.length);
  const bytes = m.objects.reduce((n, o) => n + o.bytes, 0);
  if (bytes > maxIndexBytes) reject(ctx, ["objects"], `objects of at most ${maxIndexBytes} bytes in all`, bytes);
}

function centroidDims(m: Manifest, ctx: Ctx): void {
  m.partitions.forEach((p, i) => {
    if (p.centroid && p.centroid.length !== m.vectors.dim) {
      reject(ctx, ["partitions", i, "centroid"], `${m.vectors.dim} numbers`, `${p.centroid.length} numbers`);
    }
  });
}

function lexicalDocuments(m: Manifest, ctx: Ctx): void {
  if (!m.lexical) return;
  const documents = m.corpus.documents;
  if (m.lexical.documents !== documents) reject(ctx, ["lexical", "documents"], `corpus.documents ${documents}`, m.lexical.documents);
  if (m.lexical.norms.count !== documents) reject(ctx, ["lexical", "norms", "count"], `corpus.documents ${documents}`, m.lexical.norms.count);
}

function fieldCounts(m: Manifest, ctx: Ctx): void {
  if (!m.fields) return;
  if (m.fields.columns.count !== m.corpus.documents) reject(ctx, ["fields", "columns", "count"], `corpus.documents ${m.corpus.documents}`, m.fields.columns.count);
  const p = m.fields.partitionDocs;
  if (p && p.count !== m.partitions.length) reject(ctx, ["fields", "partitionDocs", "count"], `${m.partitions.length} (one per partition)`, p.count);
}

function partitions(m: Manifest, ctx: Ctx): void {
  const ids = new Set<number>();
  m.partitions.forEach((p, i) => {
    if (ids.has(p.id)) reject(ctx, ["partitions", i, "id"], "a unique id", p.id);
    ids.add(p.id);
  });
  const inline = m.partitions.filter((p) => p.centroid !== null).length;
  if (m.partitions.length > 1 && inline !== m.partitions.length && !(inline === 0 && m.centroids)) {
    reject(ctx, ["partitions"], "every centroid inline, or all null with manifest.centroids", `${inline} of ${m.partitions.length} inline`);
  }
  if (m.centroids && m.centroids.count !== m.partitions.length) {
    reject(ctx, ["centroids", "count"], `${m.partitions.length} (one per partition)`, m.centroids.count);
  }
  m.partitions.forEach((p, i) => {
    const rows = p.shards.reduce((s, r) => s + (r.count ?? 0), 0);
    if (p.refine && p.refine.count !== rows) reject(ctx, ["partitions", i, "refine", "count"], `${rows} (the partition's rows)`, p.refine.count);
  });
  if (m.search.scan === "int4") {
    // int4 is a scan whose best candidates refine rows re-score: without them it would rank on 4 bits alone.
    const refined = m.partitions.length > 1 && m.partitions.every((p) => p.refine) && (m.search.refine ?? 0) > 0;
    if (!refined) reject(ctx, ["search", "scan"], "int8 unless the index is partitioned with refine rows and search.refine > 0", m.search.scan);
    else if (m.vectors.dim % 32 !== 0) reject(ctx, ["search", "scan"], `int8 for dims not a multiple of 32 (${m.vectors.dim})`, m.search.scan);
  }
  const vectors = m.partitions.reduce((n, p) => n + p.shards.reduce((s, r) => s + (r.count ?? 0), 0), 0);
  if (vectors !== m.corpus.passages) reject(ctx, ["partitions"], `shard counts summing to corpus.passages ${m.corpus.passages}`, vectors);
}

function docBlocks(m: Manifest, ctx: Ctx): void {
  let next = 0;
  m.docs.blocks.forEach((b, i) => {
    if (b.first !== next) reject(ctx, ["docs", "blocks", i, "first"], `${next} (blocks contiguous from 0)`, b.first);
    next += b.count;
  });
  if (next !== m.corpus.documents) reject(ctx, ["docs", "blocks"], `counts summing to corpus.documents ${m.corpus.documents}`, next);
  const ids = m.docs.ids?.buckets.reduce((n, b) => n + (b.count ?? 0), 0);
  if (ids !== undefined && ids !== m.corpus.documents) reject(ctx, ["docs", "ids", "buckets"], `counts summing to corpus.documents ${m.corpus.documents}`, ids);
}

/**
 * An updated index (delta or tombstones) is major 3 or later; its delta starts after the base's documents, its
 * counts add up, and it has BM25 objects and field columns exactly when the base has them.
 */
function delta(m: Manifest, ctx: Ctx): void {
  if ((m.delta || m.tombstones) && m.version.major < 3) reject(ctx, ["version", "major"], "3 or later (the index has a delta or tombstones)", m.version.major);
  if (m.tombstones && m.tombstones.count! > m.corpus.documents) reject(ctx, ["tombstones", "count"], `at most corpus.documents ${m.corpus.documents}`, m.tombstones.count);
  const d = m.delta;
  if (!d) return;
  if (d.first !== m.corpus.documents) reject(ctx, ["delta", "first"], `corpus.documents ${m.corpus.documents}`, d.first);
  let next = 0;
  d.docs.blocks.forEach((b, i) => {
    if (b.first !== next) reject(ctx, ["delta", "docs", "blocks", i, "first"], `${next} (blocks contiguous from 0)`, b.first);
    next += b.count;
  });
  if (next !== d.documents) reject(ctx, ["delta", "docs", "blocks"], `counts summing to delta.documents ${d.documents}`, next);
  const ids = d.docs.ids.buckets.reduce((n, b) => n + (b.count ?? 0), 0);
  if (ids !== d.documents) reject(ctx, ["delta", "docs", "ids", "buckets"], `counts summing to delta.documents ${d.documents}`, ids);
  const rows = d.shards.reduce((n, s) => n + (s.count ?? 0), 0);
  if (rows !== d.passages) reject(ctx, ["delta", "shards"], `counts summing to delta.passages ${d.passages}`, rows);
  if (!!d.lexical !== !!m.lexical) reject(ctx, ["delta", "lexical"], m.lexical ? "present (the base has a lexical section)" : "absent (the base has no lexical section)", d.lexical ? "present" : "absent");
  if (d.lexical && (d.lexical.documents !== d.documents || d.lexical.norms.count !== d.documents)) {
    reject(ctx, ["delta", "lexical", "documents"], `delta.documents ${d.documents}`, `${d.lexical.documents} (norms ${d.lexical.norms.count})`);
  }
  if (!!d.fields !== !!m.fields) reject(ctx, ["delta", "fields"], m.fields ? "present (the base declares fields)" : "absent (the base declares no fields)", d.fields ? "present" : "absent");
  if (d.fields && d.fields.columns.count !== d.documents) reject(ctx, ["delta", "fields", "columns", "count"], `delta.documents ${d.documents}`, d.fields.columns.count);
}

/** Every object referenced from a section must be listed in `objects`, with the same kind, size and hash. */
function listedObjects(m: Manifest, ctx: Ctx): void {
  const byPath = new Map<string, ObjectRef>();
  m.objects.forEach((o, i) => {
    if (byPath.has(o.path)) reject(ctx, ["objects", i, "path"], "a unique path", o.path);
    byPath.set(o.path, o);
  });
  for (const [path, ref] of references(m)) {
    const o = byPath.get(ref.path);
    if (!o) reject(ctx, path, "an object listed in manifest.objects", ref.path);
    else if (o.kind !== ref.kind || o.bytes !== ref.bytes || o.sha256 !== ref.sha256 || o.count !== ref.count) {
      reject(ctx, path, `the entry in manifest.objects ${JSON.stringify(o)}`, ref);
    }
  }
}

/** Every object reference of the sections, with its path. */
function references(m: Manifest): Array<[Array<string | number>, ObjectRef]> {
  const refs: Array<[Array<string | number>, ObjectRef]> = [[["model", "query"], m.model.query], [["model", "vocab"], m.model.vocab]];
  if (m.model.static) refs.push([["model", "static"], m.model.static]);
  m.partitions.forEach((p, i) => {
    p.shards.forEach((s, j) => refs.push([["partitions", i, "shards", j], s]));
    if (p.refine) refs.push([["partitions", i, "refine"], p.refine]);
  });
  m.docs.blocks.forEach((b, i) => refs.push([["docs", "blocks", i], b]));
  m.docs.ids?.buckets.forEach((b, i) => refs.push([["docs", "ids", "buckets", i], b]));
  if (m.centroids) refs.push([["centroids"], m.centroids]);
  if (m.lexical) {
    m.lexical.buckets.forEach((b, i) => refs.push([["lexical", "buckets", i], b]));
    const { encoding: _, ...norms } = m.lexical.norms;
    refs.push([["lexical", "norms"], norms]);
  }
  if (m.fields) {
    refs.push([["fields", "columns"], m.fields.columns]);
    if (m.fields.partitionDocs) refs.push([["fields", "partitionDocs"], m.fields.partitionDocs]);
  }
  if (m.tombstones) refs.push([["tombstones"], m.tombstones]);
  if (m.delta) for (const { at, ref } of deltaObjects(m.delta)) refs.push([at, ref]);
  return refs;
}
