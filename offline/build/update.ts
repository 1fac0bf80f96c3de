// `i3 build --base <dir> --upsert <jsonl> --delete <ids>`: an incremental update. The new version reuses every object
// of the base and rewrites only its delta (src/format/delta-section.ts): the previous delta's rows that are still
// live, copied as they are (never encoded again), then the upserted documents, encoded with the base's model and
// parameters. Base documents that are replaced or deleted are tombstoned. The output is a whole build directory (the
// base's objects hard-linked), so `i3 publish` uploads only the new objects, `npm run eval --index` searches it, and
// it can be the base of the next update.
import { copyFile, link, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  DELTA_MANIFEST_VERSION, decodeDocBlock, decodeIdBucket, decodeShard, decodeTombstones, encodeTombstones, idBucketOf, isDeleted, parseManifest,
  serializeManifest, type DeltaSection, type Doc, type DocBlockRef, type Manifest, type ObjectRef,
} from "../../src/format/index.ts";
import { stableStringify } from "../../src/format/json.ts";
import { ANALYZER } from "../../src/text/analyzer.ts";
import { compactIndex, type EncodeIntoOptions } from "./compact.ts";
import { UsageError } from "../command.ts";
import { openBuildDir, type BuildDir } from "./build-dir.ts";
import { buildIndex } from "./build.ts";
import type { Fingerprint } from "./checkpoint.ts";
import { readCorpus, resolveCorpusPath } from "./corpus.ts";
import { BuildError } from "./errors.ts";
import { writeFieldColumns } from "./fields.ts";
import { BUILD_INFO_FILE, exists, finalizeBuild, lineageOf, type BuildInfo } from "./finalize.ts";
import { writeIdIndex } from "./id-index.ts";
import { loadModel } from "./model.ts";
import { createObjectStore, type ObjectStore } from "./object-store.ts";
import { writeLexical } from "./bm25.ts";
import { createDocBlockWriter, createShardWriter } from "./writers.ts";

export interface UpdateOptions extends EncodeIntoOptions {
  /** The build directory of the current version (a fresh build or an earlier update). */
  base: string;
  /** Documents to add or replace (a corpus file: same format and checks as `i3 build --corpus`). */
  upsert?: string;
  /** Ids to delete, one per line. */
  delete?: string;
  /**
   * The whole new corpus, in place of `upsert` and `delete`: the update upserts its documents that are new or differ
   * from the version's (title, text or metadata) and deletes the version's documents it no longer has.
   */
  corpus?: string;
  /**
   * Compact instead (`i3 compact`: a fresh build of the live documents) when the delta and the tombstones would
   * exceed this share of the base's documents (e.g. 0.1); default never.
   */
  compactAbove?: number;
  /** Documents per doc block of the delta (default: the base's). */
  docsPerBlock?: number;
}

export interface UpdateSummary {
  out: string;
  /** Documents added (ids the version did not have) and replaced (ids it had). */
  added: number;
  replaced: number;
  /** Ids deleted, and ids asked to be deleted that the version does not have (reported, not an error). */
  deleted: number;
  unknownDeletes: string[];
  /** The delta after this update: its documents, and the base documents tombstoned. */
  deltaDocuments: number;
  tombstoned: number;
  /** Objects this update wrote (all others are the base's). */
  newObjects: number;
  /** True when the update was compacted into a new base (`compactAbove`). */
  compacted: boolean;
  /** True when there was nothing to change (no upsert, no id to delete that the version has): `out` is not written. */
  unchanged: boolean;
  newBytes: number;
  seconds: number;
}

/**
 * Writes an updated version of `base` into `out` (via `<out>.partial`, renamed when complete and verified).
 *
 * @example
 * await updateIndex({ base: "out/v1", upsert: "changed.jsonl", delete: "gone.txt", model: "models/i3-scifact", out: "out/v2" });
 */
export async function updateIndex(o: UpdateOptions): Promise<UpdateSummary> {
  const t0 = performance.now();
  const say = (s: string) => (o.stderr ?? process.stderr).write(s + "\n");
  if (!o.upsert && !o.delete && !o.corpus) throw new UsageError("--base needs --corpus <the whole new corpus>, or --upsert <corpus.jsonl> and/or --delete <ids file>");
  if (o.corpus && (o.upsert || o.delete)) throw new UsageError("--base: give --corpus (the whole new corpus), or --upsert / --delete (the changes), not both");
  const out = o.out.replace(/\/+$/, "");
  if (path.resolve(out) === path.resolve(o.base)) throw new UsageError("--out must differ from --base (the base stays as it is)");
  if (!o.force && (await exists(out))) throw new BuildError("output_exists", `${out} already exists (pass --force to replace it)`);
  const base = await openBuildDir(o.base);
  const m = base.manifest;
  const info = await baseInfo(base);
  await checkBase(base, info, o.model);

  const { upserts, deletes } = o.corpus ? await diffCorpus(base, await resolveCorpusPath(o.corpus)) : await changes(o, m);
  const upsertIds = new Set(upserts.map((d) => d.id));
  const gone = new Set([...upsertIds, ...deletes]);
  if (upserts.length === 0 && !(await deletesAny(base, deletes))) {
    say(`build: nothing to change in ${o.base} (no document to upsert, none of the ids to delete is there): ${out} not written`);
    return {
      out, added: 0, replaced: 0, deleted: 0, unknownDeletes: deletes, deltaDocuments: m.delta?.documents ?? 0, tombstoned: m.tombstones?.count ?? 0,
      newObjects: 0, newBytes: 0, seconds: (performance.now() - t0) / 1000, compacted: false, unchanged: true,
    };
  }

  const partial = `${out}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(path.join(partial, "objects"), { recursive: true });
  const store = createObjectStore(partial);
  const upsertFile = path.join(partial, "upserts.jsonl");
  await writeFile(upsertFile, upserts.map((d) => JSON.stringify(d)).join("\n") + "\n");
  try {
    // The base documents replaced or deleted, on top of those the previous updates tombstoned.
    const before = m.tombstones ? decodeTombstones(await base.readObject(m.tombstones)) : undefined;
    const dead = new Set<number>();
    if (before) for (let i = 0; i < before.documents; i++) if (before.bits[i >>> 5] & (1 << (i & 31))) dead.add(i);
    const inBase = await baseOrdinals(base, [...gone]);
    // The previous delta's documents that stay: every one whose id is neither upserted nor deleted now.
    const previous = m.delta ? await deltaDocs(base, m.delta) : [];
    const kept = previous.map((d, i) => ({ doc: d, old: i })).filter((x) => !gone.has(x.doc.id));
    const inDelta = new Set(previous.map((d) => d.id));
    const had = (id: string) => inDelta.has(id) || (inBase.has(id) && !dead.has(inBase.get(id)!));
    const unknownDeletes = deletes.filter((id) => !upsertIds.has(id) && !had(id));
    const replaced = upserts.filter((d) => had(d.id)).length;
    const deleted = new Set(deletes.filter((id) => !upsertIds.has(id) && had(id))).size;
    for (const id of gone) if (inBase.has(id)) dead.add(inBase.get(id)!);

    const encoded = upserts.length ? await encodeUpserts(upsertFile, o, m, info, partial, say) : undefined;
    const delta = kept.length + upserts.length > 0
      ? await writeDelta({ store, base, m, info, kept, previousShards: m.delta?.shards ?? [], encoded, docsPerBlock: o.docsPerBlock, upserts: upserts.length })
      : undefined;
    const tombstones = dead.size > 0 ? await store.write("tombstones", encodeTombstones(dead, m.corpus.documents), { count: dead.size }) : undefined;
    const manifest = updatedManifest(m, delta, tombstones);
    const written = new Set([...(delta ? deltaRefs(delta) : []), ...(tombstones ? [tombstones] : [])].map((r) => r.path));
    await linkBaseObjects(base, partial, manifest.objects.filter((r) => !written.has(r.path)));
    const compact = o.compactAbove !== undefined && (delta?.documents ?? 0) + dead.size > o.compactAbove * m.corpus.documents;
    await finalizeBuild(store, compact ? `${out}.updated` : out, manifest, { ...info, lineage: lineageOf(base, info), update: updateRecord(m, delta) } as BuildInfo, true);
    if (compact) {
      say(`build: the delta (${delta?.documents ?? 0} documents, ${dead.size} tombstones) exceeds ${o.compactAbove} of the base's ${m.corpus.documents} documents: compacting`);
      await compactIndex({ base: `${out}.updated`, out, model: o.model, force: true, device: o.device, encoder: o.encoder, threads: o.threads, stderr: o.stderr });
      await rm(`${out}.updated`, { recursive: true, force: true });
    }
    const newRefs = manifest.objects.filter((r) => written.has(r.path));
    const summary: UpdateSummary = {
      out, added: upserts.length - replaced, replaced, deleted, unknownDeletes,
      deltaDocuments: delta?.documents ?? 0, tombstoned: dead.size,
      newObjects: newRefs.length, newBytes: newRefs.reduce((n, r) => n + r.bytes, 0), seconds: (performance.now() - t0) / 1000, compacted: compact, unchanged: false,
    };
    if (unknownDeletes.length) say(`build: ${unknownDeletes.length} id(s) to delete are not in ${o.base}: ${unknownDeletes.slice(0, 5).map((x) => JSON.stringify(x)).join(", ")}${unknownDeletes.length > 5 ? ", ..." : ""}`);
    say(
      `build: ${out}: update ${delta?.updates ?? (m.delta?.updates ?? 0) + 1} of base ${m.id}: ${summary.added} added, ${replaced} replaced, ${deleted} deleted; ` +
      `delta ${summary.deltaDocuments} documents, ${dead.size} base documents tombstoned; ${summary.newObjects} new objects (${summary.newBytes} bytes), ${summary.seconds.toFixed(1)} s`,
    );
    return summary;
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
}

/** Whether any of `ids` is a live document of the version. */
async function deletesAny(base: BuildDir, ids: string[]): Promise<boolean> {
  if (ids.length === 0) return false;
  const m = base.manifest;
  if (m.delta) for (const d of await deltaDocs(base, m.delta)) if (ids.includes(d.id)) return true;
  const tomb = m.tombstones && decodeTombstones(await base.readObject(m.tombstones));
  for (const o of (await baseOrdinals(base, ids)).values()) if (!tomb || !isDeleted(tomb, o)) return true;
  return false;
}

/** The upserted documents (checked as a corpus is) and the ids to delete, from the update's files. */
async function changes(o: UpdateOptions, m: Manifest): Promise<{ upserts: Doc[]; deletes: string[] }> {
  const upserts: Doc[] = [];
  if (o.upsert) for await (const { doc } of readCorpus(await resolveCorpusPath(o.upsert), { fields: m.fields?.schema })) upserts.push(doc);
  return { upserts, deletes: o.delete ? await readIds(o.delete) : [] };
}

/** A document as the update compares it: its title, text and metadata (keys in order). */
const contentOf = (d: Doc) => stableStringify([d.title ?? "", d.text, d.metadata ?? null]);

/**
 * The changes that make the version's live documents the corpus': its documents that are new or differ, and the
 * version's ids it no longer has.
 */
async function diffCorpus(base: BuildDir, file: string): Promise<{ upserts: Doc[]; deletes: string[] }> {
  const m = base.manifest;
  const tomb = m.tombstones && decodeTombstones(await base.readObject(m.tombstones));
  const live = new Map<string, string>();
  for (const b of m.docs.blocks) {
    decodeDocBlock(await base.readObject(b)).forEach((d, i) => {
      if (!tomb || !isDeleted(tomb, b.first + i)) live.set(d.id, contentOf(d));
    });
  }
  for (const b of m.delta?.docs.blocks ?? []) for (const d of decodeDocBlock(await base.readObject(b))) live.set(d.id, contentOf(d));
  const upserts: Doc[] = [];
  const seen = new Set<string>();
  for await (const { doc } of readCorpus(file, { fields: m.fields?.schema })) {
    seen.add(doc.id);
    if (live.get(doc.id) !== contentOf(doc)) upserts.push(doc);
  }
  return { upserts, deletes: [...live.keys()].filter((id) => !seen.has(id)) };
}

/** The base's build-info.json: how it was built (the update uses the same parameters). */
async function baseInfo(base: BuildDir): Promise<BuildInfo> {
  const file = path.join(base.dir, BUILD_INFO_FILE);
  try {
    return JSON.parse(await readFile(file, "utf8")) as BuildInfo;
  } catch (e) {
    throw new BuildError("invalid_build", `${file}: ${(e as Error).message} (an update needs the base's build parameters)`, { cause: e });
  }
}

/** The base must be updatable with this model: the same passage model, query model and vocab, an id index, a known analyzer. */
async function checkBase(base: BuildDir, info: BuildInfo, modelDir: string): Promise<void> {
  const m = base.manifest;
  if (info.slice) throw new UsageError(`${base.dir} is slice ${info.slice.k}/${info.slice.n} of a build: update the merged index (i3 merge)`);
  if (!m.docs.ids) throw new UsageError(`${base.dir} has no id index (built before manifest 2.1): rebuild it to update it`);
  if (m.lexical && (m.lexical.analyzer.name !== ANALYZER.name || m.lexical.analyzer.version !== ANALYZER.version)) {
    throw new UsageError(`${base.dir} was analyzed with ${m.lexical.analyzer.name} ${m.lexical.analyzer.version}, this i3 with ${ANALYZER.name} ${ANALYZER.version}: rebuild it`);
  }
  const model = await loadModel(modelDir);
  const want = info.fingerprint.model;
  // A pulled base (`i3 pull`) does not know its passage model's hash: its query model and vocab are checked.
  const passageDiffers = want.passage !== "" && model.hashes.passage !== want.passage;
  if (passageDiffers || model.hashes.query !== m.model.query.sha256 || model.hashes.vocab !== m.model.vocab.sha256) {
    throw new UsageError(`--model ${modelDir} is not the model ${base.dir} was built with (${want.name}): an update must encode with the same model`);
  }
}

/** The ids of a delete file: one per line, surrounding whitespace and blank lines ignored. */
async function readIds(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new UsageError(`--delete ${file}: ${(e as Error).message}`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

/** The base ordinal of each id the base's id index has. */
async function baseOrdinals(base: BuildDir, ids: string[]): Promise<Map<string, number>> {
  const index = base.manifest.docs.ids!;
  const B = index.buckets.length;
  const byBucket = new Map<number, string[]>();
  for (const id of ids) byBucket.set(idBucketOf(id, B), [...(byBucket.get(idBucketOf(id, B)) ?? []), id]);
  const out = new Map<string, number>();
  for (const [b, wanted] of byBucket) {
    const bucket = decodeIdBucket(await base.readObject(index.buckets[b]), base.manifest.corpus.documents);
    for (const id of wanted) if (bucket.ordinals.has(id)) out.set(id, bucket.ordinals.get(id)!);
  }
  return out;
}

/** The previous delta's documents, by local ordinal. */
async function deltaDocs(base: BuildDir, d: DeltaSection): Promise<Doc[]> {
  const docs: Doc[] = [];
  for (const b of d.docs.blocks) docs.push(...decodeDocBlock(await base.readObject(b)));
  return docs;
}

/** The upserted documents encoded as a flat build with the base's model and parameters, in `<partial>/upserts`. */
async function encodeUpserts(file: string, o: UpdateOptions, m: Manifest, info: BuildInfo, partial: string, say: (s: string) => void): Promise<BuildDir> {
  const f: Fingerprint = info.fingerprint;
  const dir = path.join(partial, "upserts");
  say(`build: encoding the upserted documents of ${file}`);
  await buildIndex({
    corpus: file, model: o.model, out: dir, force: true, device: o.device, encoder: o.encoder, threads: o.threads,
    window: f.window, stride: f.stride, split: f.split, batch: f.batch, shardSize: f.shardSize, docsPerBlock: f.docsPerBlock,
    lexical: false, partitioning: { partitions: 1 }, fields: m.fields?.schema, id: m.id,
    stderr: { write: (s: string) => { for (const l of s.split("\n").filter(Boolean)) say(`  ${l}`); } },
  });
  return openBuildDir(dir);
}

/**
 * The new delta: the kept documents of the previous delta (their rows copied), then the upserted ones (their rows
 * from the upsert build), renumbered from 0; its BM25 objects, id index and field columns made from its doc blocks.
 */
async function writeDelta(a: {
  store: ObjectStore; base: BuildDir; m: Manifest; info: BuildInfo; kept: Array<{ doc: Doc; old: number }>; previousShards: ObjectRef[];
  encoded?: BuildDir; docsPerBlock?: number; upserts: number;
}): Promise<DeltaSection> {
  const { store, m } = a;
  const dim = m.vectors.dim;
  const blocks: DocBlockRef[] = [];
  const docs = createDocBlockWriter({ store, docsPerBlock: a.docsPerBlock ?? a.info.fingerprint.docsPerBlock, onBlock: (b) => void blocks.push(b) });
  for (const { doc } of a.kept) await docs.add(doc);
  if (a.encoded) for (const b of a.encoded.manifest.docs.blocks) for (const doc of decodeDocBlock(await a.encoded.readObject(b))) await docs.add(doc);
  await docs.finish();

  const shards: ObjectRef[] = [];
  const rows = createShardWriter({ store, dim, shardSize: a.info.fingerprint.shardSize, onShard: (s) => void shards.push(s.ref) });
  // Rows name version ordinals: the delta's first document is the base's document count.
  const first = m.corpus.documents;
  const renumber = new Map(a.kept.map((k, i) => [first + k.old, first + i]));
  for (const ref of a.previousShards) {
    const s = decodeShard(await a.base.readObject(ref));
    const keep: number[] = [];
    for (let i = 0; i < s.header.count; i++) if (renumber.has(s.ordinals[i])) keep.push(i);
    await rows.add(pick(s, keep, dim, (o) => renumber.get(o)!));
  }
  if (a.encoded) {
    for (const ref of a.encoded.manifest.partitions.flatMap((p) => p.shards)) {
      const s = decodeShard(await a.encoded.readObject(ref));
      await rows.add(pick(s, [...Array(s.header.count).keys()], dim, (o) => first + a.kept.length + o));
    }
  }
  await rows.finish();

  const documents = a.kept.length + a.upserts;
  const lexical = m.lexical ? await writeLexical(store, blocks) : undefined;
  const ids = await writeIdIndex(store, blocks);
  const columns = m.fields ? await writeFieldColumns(store, blocks, m.fields.schema) : undefined;
  return {
    first, documents, passages: shards.reduce((n, s) => n + s.count!, 0),
    updates: (m.delta?.updates ?? 0) + 1, updatedAt: new Date().toISOString(),
    shards, docs: { blocks, ids },
    ...(lexical ? { lexical: { documents: lexical.documents, avgDocLength: lexical.avgDocLength, terms: lexical.terms, buckets: lexical.buckets, norms: lexical.norms } } : {}),
    ...(columns ? { fields: { columns } } : {}),
  };
}

/** Rows `keep` of a decoded shard, with their doc ordinals mapped. */
function pick(s: ReturnType<typeof decodeShard>, keep: number[], dim: number, ordinal: (o: number) => number) {
  const cb = Math.ceil(dim / 8);
  const vectors = new Int8Array(keep.length * dim);
  const scales = new Float32Array(keep.length);
  const codes = new Uint8Array(keep.length * cb);
  const ordinals = new Uint32Array(keep.length);
  keep.forEach((r, i) => {
    vectors.set(s.vectors.subarray(r * dim, (r + 1) * dim), i * dim);
    scales[i] = s.scales[r];
    codes.set(s.codes.subarray(r * cb, (r + 1) * cb), i * cb);
    ordinals[i] = ordinal(s.ordinals[r]);
  });
  return { count: keep.length, vectors, scales, codes, ordinals };
}

/** Every object of a delta section. */
function deltaRefs(d: DeltaSection): ObjectRef[] {
  const strip = ({ encoding: _, ...r }: ObjectRef & { encoding?: string }) => r as ObjectRef;
  return [
    ...d.shards, ...d.docs.blocks.map(({ first: _, ...r }) => r as ObjectRef), ...d.docs.ids.buckets,
    ...(d.lexical ? [...d.lexical.buckets, strip(d.lexical.norms)] : []), ...(d.fields ? [d.fields.columns] : []),
  ];
}

/** The base's manifest with the new delta and tombstones in place of the old (manifest 3.0). */
function updatedManifest(m: Manifest, delta: DeltaSection | undefined, tombstones: ObjectRef | undefined): Manifest {
  const old = new Set([...(m.delta ? deltaRefs(m.delta) : []), ...(m.tombstones ? [m.tombstones] : [])].map((r) => r.path));
  const { delta: _d, tombstones: _t, ...rest } = m;
  const next: Manifest = {
    ...rest,
    version: { ...DELTA_MANIFEST_VERSION },
    ...(delta ? { delta } : {}),
    ...(tombstones ? { tombstones } : {}),
    objects: [...m.objects.filter((r) => !old.has(r.path)), ...(delta ? deltaRefs(delta) : []), ...(tombstones ? [tombstones] : [])],
  };
  return parseManifest(JSON.parse(serializeManifest(next)));
}

/** What build-info.json records of the update. */
function updateRecord(m: Manifest, delta: DeltaSection | undefined) {
  return { baseId: m.id, baseCreatedAt: m.createdAt, updates: delta?.updates ?? (m.delta?.updates ?? 0) + 1 };
}

/** The base's objects into the new directory: hard links (copies where linking fails). */
async function linkBaseObjects(base: BuildDir, partial: string, refs: ObjectRef[]): Promise<void> {
  for (const r of refs) {
    const from = base.objectFile(r);
    const to = path.join(partial, r.path);
    await link(from, to).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code === "EEXIST") return;
      await copyFile(from, to);
    });
  }
}
