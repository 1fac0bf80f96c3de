// The manifest: one JSON document describing an index version and listing every object it needs.
// parseManifest validates a parsed JSON value into a Manifest (unknown fields, which newer minor versions may
// add, are ignored and dropped); serializeManifest writes it with a fixed key order.
import { FormatError } from "./errors.ts";
import { stableStringify } from "./json.ts";
import { OBJECT_PATH_PATTERN } from "./r2-keys.ts";
import type { LexicalSection } from "./bm25.ts";
import type { ObjectRef } from "./objects.ts";
import { absent, arr, bool, child, fail, int, num, obj, oneOf, str, type Node } from "./validate.ts";

/** The `format` field of every manifest. */
export const FORMAT_NAME = "i3-edge-index";
/** Manifest version this build writes; it reads any minor of the same major. */
export const MANIFEST_VERSION = { major: 1, minor: 2 } as const;

/** A doc block reference: an object of kind "docs" holding global doc ordinals first..first+count-1. */
export interface DocBlockRef extends ObjectRef {
  first: number;
  count: number;
}

/** An IVF partition: its centroid (null when v1 writes a single partition) and its vector shards. */
export interface Partition {
  id: number;
  centroid: number[] | null;
  shards: ObjectRef[];
}

/** A validated manifest. */
export interface Manifest {
  format: typeof FORMAT_NAME;
  version: { major: number; minor: number };
  /** Index id. */
  id: string;
  /** ISO 8601 build time. */
  createdAt: string;
  corpus: { documents: number; passages: number; avgTokens: number };
  vectors: { dim: number; quantization: "int8"; binary: boolean; metric: "ip"; normalized: boolean };
  /** The query encoder the index must be searched with; `tokenizerHash` is the vocab's sha256. */
  model: { name: string; maxQueryTokens: number; query: ObjectRef; vocab: ObjectRef; tokenizerHash: string };
  /** How documents were split into passages (tokens), and how passage scores become a doc score. */
  passages: { window: number; stride: number; docScore: "max" };
  partitions: Partition[];
  /** Optional centroids object (float32 [partitions * dim]) in place of inline centroids. */
  centroids?: ObjectRef;
  docs: { blocks: DocBlockRef[] };
  /** The BM25 inverted index (since 1.1; a 1.0 reader ignores it). See src/format/bm25.ts. */
  lexical?: LexicalSection;
  /** Search defaults: results returned, and candidates of the binary pass rescored with int8. */
  search: { k: number; rescore: number };
  /** Every object of the index. */
  objects: ObjectRef[];
}

const HEX64 = /^[0-9a-f]{64}$/;
const U32 = 0xffffffff;

function objectRef(v: unknown, path: string, kind?: string): ObjectRef {
  const n = obj(v, path);
  const ref: ObjectRef = {
    path: str(n, "path", OBJECT_PATH_PATTERN, "objects/<sha256>.<ext>"),
    kind: kind ? oneOf(n, "kind", [kind]) : str(n, "kind", /^[a-z][a-z0-9_-]*$/),
    bytes: int(n, "bytes"),
    sha256: str(n, "sha256", HEX64, "64 lower-case hex"),
  };
  if (!absent(n, "count")) ref.count = int(n, "count", 0, U32);
  if (!ref.path.startsWith(`objects/${ref.sha256}.`)) fail("invalid_manifest", `${path}.path`, `objects/${ref.sha256}.<ext>`, ref.path);
  return ref;
}

function counted(ref: ObjectRef, path: string): ObjectRef & { count: number } {
  if (ref.count === undefined) fail("invalid_manifest", `${path}.count`, "an integer", undefined);
  return ref as ObjectRef & { count: number };
}

function partition(v: unknown, path: string, dim: number): Partition {
  const n = obj(v, path);
  let centroid: number[] | null = null;
  if (n.value.centroid !== null) {
    centroid = arr(n, "centroid", (x, p) => (typeof x === "number" && Number.isFinite(x) ? x : fail("invalid_manifest", p, "a finite number", x)));
    if (centroid.length !== dim) fail("invalid_manifest", `${path}.centroid`, `${dim} numbers`, `${centroid.length} numbers`);
  }
  const shards = arr(n, "shards", (x, p) => counted(objectRef(x, p, "shard"), p));
  return { id: int(n, "id", 0, U32), centroid, shards };
}

function version(root: Node): { major: number; minor: number } {
  const n = child(root, "version");
  const major = int(n, "major", 0, 0xffff);
  if (major !== MANIFEST_VERSION.major) {
    throw new FormatError("unsupported_version", `manifest.version.major: expected ${MANIFEST_VERSION.major}, got ${major}`);
  }
  return { major, minor: int(n, "minor", 0, 0xffff) };
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
  const root = obj(json, "manifest");
  if (root.value.format !== FORMAT_NAME) {
    throw new FormatError("bad_magic", `manifest.format: expected ${JSON.stringify(FORMAT_NAME)}, got ${JSON.stringify(root.value.format)}`);
  }
  const v = version(root);
  const c = child(root, "corpus");
  const corpus = { documents: int(c, "documents", 0, U32), passages: int(c, "passages", 0, U32), avgTokens: num(c, "avgTokens", 0) };
  const vn = child(root, "vectors");
  const vectors = {
    dim: int(vn, "dim", 1, 0xffff),
    quantization: oneOf(vn, "quantization", ["int8"] as const),
    binary: bool(vn, "binary"),
    metric: oneOf(vn, "metric", ["ip"] as const),
    normalized: bool(vn, "normalized"),
  };
  const mn = child(root, "model");
  const model = {
    name: str(mn, "name"),
    maxQueryTokens: int(mn, "maxQueryTokens", 1, 128),
    query: objectRef(mn.value.query, "manifest.model.query", "model"),
    vocab: objectRef(mn.value.vocab, "manifest.model.vocab", "vocab"),
    tokenizerHash: str(mn, "tokenizerHash", HEX64, "64 lower-case hex"),
  };
  if (model.tokenizerHash !== model.vocab.sha256) fail("invalid_manifest", "manifest.model.tokenizerHash", `the vocab sha256 ${model.vocab.sha256}`, model.tokenizerHash);
  const pn = child(root, "passages");
  const window = int(pn, "window", 1, U32);
  const passages = { window, stride: int(pn, "stride", 1, window), docScore: oneOf(pn, "docScore", ["max"] as const) };
  const partitions = arr(root, "partitions", (x, p) => partition(x, p, vectors.dim), true);
  const centroids = absent(root, "centroids") ? undefined : counted(objectRef(root.value.centroids, "manifest.centroids", "centroids"), "manifest.centroids");
  const dn = child(root, "docs");
  const blocks = arr(dn, "blocks", (x, p) => {
    const ref = counted(objectRef(x, p, "docs"), p);
    return { ...ref, first: int(obj(x, p), "first", 0, U32) };
  });
  const lexical = absent(root, "lexical") ? undefined : lexicalSection(child(root, "lexical"), corpus.documents);
  const sn = child(root, "search");
  const search = { k: int(sn, "k", 1, 10_000), rescore: int(sn, "rescore", 1, 1_000_000) };
  const objects = arr(root, "objects", (x, p) => objectRef(x, p));

  const m: Manifest = {
    format: FORMAT_NAME, version: v, id: str(root, "id"), createdAt: isoTime(root, "createdAt"),
    corpus, vectors, model, passages, partitions, docs: { blocks }, search, objects,
  };
  if (centroids) m.centroids = centroids;
  if (lexical) m.lexical = lexical;
  checkPartitions(m);
  checkDocs(m);
  checkObjects(m);
  return m;
}

function lexicalSection(n: Node, documents: number): LexicalSection {
  const an = child(n, "analyzer");
  const bn = child(n, "bm25");
  const fn = child(n, "fusion");
  const buckets = arr(n, "buckets", (x, p) => counted(objectRef(x, p, "lexical"), p), true);
  const nn = child(n, "norms");
  const norms = { ...counted(objectRef(nn.value, nn.path, "lexical"), nn.path), encoding: oneOf(nn, "encoding", ["lucene-byte4"] as const) };
  const s: LexicalSection = {
    analyzer: { name: str(an, "name"), version: int(an, "version", 0, 0xffff) },
    bm25: { k1: num(bn, "k1", 0), b: num(bn, "b", 0) },
    documents: int(n, "documents", 0, U32),
    avgDocLength: num(n, "avgDocLength", 0),
    terms: int(n, "terms", 0, U32),
    hash: oneOf(n, "hash", ["fnv1a32"] as const),
    buckets,
    norms,
    fusion: {
      mode: oneOf(fn, "mode", ["rrf", "weighted"] as const), k: num(fn, "k", 0), weight: num(fn, "weight", 0), depth: int(fn, "depth", 1, 10_000),
      // Since 1.2; a 1.1 manifest's weight was tuned for the per-list min-max of its time.
      normalization: absent(fn, "normalization") ? "minmax" : oneOf(fn, "normalization", ["tmm", "minmax"] as const),
    },
    defaultMode: oneOf(n, "defaultMode", ["dense", "lexical", "hybrid"] as const),
  };
  if (s.bm25.b > 1) fail("invalid_manifest", `${bn.path}.b`, "a number in 0..1", s.bm25.b);
  if (s.fusion.weight > 1) fail("invalid_manifest", `${fn.path}.weight`, "a number in 0..1", s.fusion.weight);
  if (s.documents !== documents) fail("invalid_manifest", `${n.path}.documents`, `corpus.documents ${documents}`, s.documents);
  if (norms.count !== documents) fail("invalid_manifest", `${nn.path}.count`, `corpus.documents ${documents}`, norms.count);
  const terms = buckets.reduce((t, b) => t + b.count, 0);
  if (terms !== s.terms) fail("invalid_manifest", `${n.path}.buckets`, `counts summing to terms ${s.terms}`, terms);
  return s;
}

function isoTime(n: Node, key: string): string {
  const s = str(n, key);
  if (Number.isNaN(Date.parse(s))) fail("invalid_manifest", `manifest.${key}`, "an ISO 8601 time", s);
  return s;
}

function checkPartitions(m: Manifest): void {
  const ids = new Set<number>();
  m.partitions.forEach((p, i) => {
    if (ids.has(p.id)) fail("invalid_manifest", `manifest.partitions[${i}].id`, "a unique id", p.id);
    ids.add(p.id);
  });
  const inline = m.partitions.filter((p) => p.centroid !== null).length;
  if (m.partitions.length > 1 && inline !== m.partitions.length && !(inline === 0 && m.centroids)) {
    fail("invalid_manifest", "manifest.partitions", "every centroid inline, or all null with manifest.centroids", `${inline} of ${m.partitions.length} inline`);
  }
  if (m.centroids && m.centroids.count !== m.partitions.length) {
    fail("invalid_manifest", "manifest.centroids.count", `${m.partitions.length} (one per partition)`, m.centroids.count);
  }
  const vectors = m.partitions.reduce((n, p) => n + p.shards.reduce((s, r) => s + (r.count ?? 0), 0), 0);
  if (vectors !== m.corpus.passages) fail("invalid_manifest", "manifest.partitions", `shard counts summing to corpus.passages ${m.corpus.passages}`, vectors);
}

function checkDocs(m: Manifest): void {
  let next = 0;
  m.docs.blocks.forEach((b, i) => {
    if (b.first !== next) fail("invalid_manifest", `manifest.docs.blocks[${i}].first`, `${next} (blocks contiguous from 0)`, b.first);
    next += b.count;
  });
  if (next !== m.corpus.documents) fail("invalid_manifest", "manifest.docs.blocks", `counts summing to corpus.documents ${m.corpus.documents}`, next);
}

/** Every object referenced from a section must be listed in `objects`, with the same kind, size and hash. */
function checkObjects(m: Manifest): void {
  const byPath = new Map<string, ObjectRef>();
  m.objects.forEach((o, i) => {
    if (byPath.has(o.path)) fail("invalid_manifest", `manifest.objects[${i}].path`, "a unique path", o.path);
    byPath.set(o.path, o);
  });
  const refs: Array<[string, ObjectRef]> = [["manifest.model.query", m.model.query], ["manifest.model.vocab", m.model.vocab]];
  m.partitions.forEach((p, i) => p.shards.forEach((s, j) => refs.push([`manifest.partitions[${i}].shards[${j}]`, s])));
  m.docs.blocks.forEach((b, i) => refs.push([`manifest.docs.blocks[${i}]`, b]));
  if (m.centroids) refs.push(["manifest.centroids", m.centroids]);
  if (m.lexical) {
    m.lexical.buckets.forEach((b, i) => refs.push([`manifest.lexical.buckets[${i}]`, b]));
    refs.push(["manifest.lexical.norms", ref(m.lexical.norms)]);
  }
  for (const [path, ref] of refs) {
    const o = byPath.get(ref.path);
    if (!o) fail("invalid_manifest", path, "an object listed in manifest.objects", ref.path);
    if (o.kind !== ref.kind || o.bytes !== ref.bytes || o.sha256 !== ref.sha256 || o.count !== ref.count) {
      fail("invalid_manifest", path, `the entry in manifest.objects ${JSON.stringify(o)}`, ref);
    }
  }
}

function ref(r: ObjectRef): ObjectRef {
  const out: ObjectRef = { path: r.path, kind: r.kind, bytes: r.bytes, sha256: r.sha256 };
  if (r.count !== undefined) out.count = r.count;
  return out;
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
    model: { name: m.model.name, maxQueryTokens: m.model.maxQueryTokens, query: ref(m.model.query), vocab: ref(m.model.vocab), tokenizerHash: m.model.tokenizerHash },
    passages: { window: m.passages.window, stride: m.passages.stride, docScore: m.passages.docScore },
    partitions: m.partitions.map((p) => ({ id: p.id, centroid: p.centroid, shards: p.shards.map(ref) })),
    centroids: m.centroids && ref(m.centroids),
    docs: { blocks: m.docs.blocks.map((b) => ({ ...ref(b), first: b.first })) },
    lexical: m.lexical && lexicalJson(m.lexical),
    search: { k: m.search.k, rescore: m.search.rescore },
    objects: m.objects.map(ref),
  });
}
