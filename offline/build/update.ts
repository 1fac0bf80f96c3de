// `i3 build --base <dir> --upsert <jsonl> --delete <ids>`: an incremental update. The new version reuses every object
// of the base and rewrites only its delta (src/format/delta-section.ts): the previous delta's rows that are still
// live, copied as they are (never encoded again), then the upserted documents, encoded with the base's model and
// parameters. Base documents that are replaced or deleted are tombstoned. The output is a whole build directory (the
// base's objects hard-linked), so `i3 publish` uploads only the new objects, `npm run eval --index` searches it, and
// it can be the base of the next update.
import { copyFile, link, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { DEFAULT_CACHE_BUDGET_BYTES, splitBudget } from "../../src/search/budget.ts";
import {
  DELTA_MANIFEST_VERSION, MANIFEST_VERSION, decodeDocBlock, decodeIdBucket, decodeTombstones, deltaObjects, encodeTombstones, idBucketOf,
  parseManifest, serializeManifest, type DeltaSection, type Doc, type Manifest, type ObjectRef,
} from "../../src/format/index.ts";
import { UsageError } from "../command.ts";
import { openBase } from "./base.ts";
import { openBuildDir, type BuildDir } from "./build-dir.ts";
import { lineageOf, type BuildInfo } from "./build-info.ts";
import { buildIndex } from "./build.ts";
import { compactIndex, type EncodeIntoOptions } from "./compact.ts";
import { readCorpus, resolveCorpusPath } from "./corpus.ts";
import { diffCorpus } from "./corpus-diff.ts";
import { writeDelta } from "./delta-writer.ts";
import { BuildError } from "./errors.ts";
import { exists, finalizeBuild } from "./finalize.ts";
import { createObjectStore } from "./object-store.ts";

/**
 * The most vector bytes a delta may have for a worker with the default budget to serve it: half its kernel memory
 * (12 MB: half of 24 MB of the default 64 MB `CACHE_BUDGET_BYTES`, src/search/budget.ts), where the delta stays
 * beside the probed partitions. An update with `--compact-above` compacts past it whatever the share.
 */
const DELTA_BYTES_LIMIT = splitBudget(DEFAULT_CACHE_BUDGET_BYTES).kernels / 2;

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
  const { info, passage } = await openBase(base, o.model, "an update");
  const skipEmpty = info.fingerprint.skipEmpty === true; // the base left empty documents out: so does its update

  const { upserts, deletes } = o.corpus ? await diffCorpus(base, await resolveCorpusPath(o.corpus), { skipEmpty }) : await changes(o, m, skipEmpty);
  const upsertIds = new Set(upserts.map((d) => d.id));
  const gone = new Set([...upsertIds, ...deletes]);
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
  if (upserts.length === 0 && deleted === 0) {
    say(`build: nothing to change in ${o.base} (no document to upsert, none of the ids to delete is there): ${out} not written`);
    return {
      out, added: 0, replaced: 0, deleted: 0, unknownDeletes, deltaDocuments: m.delta?.documents ?? 0, tombstoned: m.tombstones?.count ?? 0,
      newObjects: 0, newBytes: 0, seconds: (performance.now() - t0) / 1000, compacted: false, unchanged: true,
    };
  }

  const partial = `${out}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(path.join(partial, "objects"), { recursive: true });
  const store = createObjectStore(partial);
  const upsertFile = path.join(partial, "upserts.jsonl");
  await writeFile(upsertFile, upserts.map((d) => JSON.stringify(d)).join("\n") + "\n");
  for (const id of gone) if (inBase.has(id)) dead.add(inBase.get(id)!);
  try {

    const encoded = upserts.length ? await encodeUpserts(upsertFile, o, { m, info, passage }, partial, say) : undefined;
    const delta = kept.length + upserts.length > 0
      ? await writeDelta({ store, base, m, info, kept, previousShards: m.delta?.shards ?? [], encoded, docsPerBlock: o.docsPerBlock, upserts: upserts.length })
      : undefined;
    const tombstones = dead.size > 0 ? await store.write("tombstones", encodeTombstones(dead, m.corpus.documents), { count: dead.size }) : undefined;
    const manifest = updatedManifest(m, delta, tombstones);
    const written = new Set([...(delta ? deltaObjects(delta).map((x) => x.ref) : []), ...(tombstones ? [tombstones] : [])].map((r) => r.path));
    // The base's objects, linked: counted as verified (the base was, when it was built or pulled); publish hashes all.
    const linked = manifest.objects.filter((r) => !written.has(r.path));
    await linkBaseObjects(base, partial, linked);
    for (const r of linked) store.adopt(r);
    const deltaBytes = (delta?.shards ?? []).reduce((n, r) => n + r.bytes, 0);
    const tooLarge = deltaBytes > DELTA_BYTES_LIMIT; // a worker with the default budget would refuse it
    const compact = o.compactAbove !== undefined && ((delta?.documents ?? 0) + dead.size > o.compactAbove * m.corpus.documents || tooLarge);
    const updated: BuildInfo = { ...info, lineage: lineageOf(base, info), update: updateRecord(m, delta) };
    await finalizeBuild(store, compact ? `${out}.updated` : out, manifest, updated, true, { trusted: new Set(linked.map((r) => r.path)) });
    if (compact) {
      say(`build: the delta (${delta?.documents ?? 0} documents, ${dead.size} tombstones) exceeds ${o.compactAbove} of the base's ${m.corpus.documents} documents: compacting`);
      try {
        await compactIndex({ base: `${out}.updated`, out, model: o.model, force: true, device: o.device, encoder: o.encoder, threads: o.threads, stderr: o.stderr });
      } finally {
        await rm(`${out}.updated`, { recursive: true, force: true });
      }
    }
    const newRefs = manifest.objects.filter((r) => written.has(r.path));
    const summary: UpdateSummary = {
      out, added: upserts.length - replaced, replaced, deleted, unknownDeletes,
      deltaDocuments: delta?.documents ?? 0, tombstoned: dead.size,
      newObjects: newRefs.length, newBytes: newRefs.reduce((n, r) => n + r.bytes, 0), seconds: (performance.now() - t0) / 1000, compacted: compact, unchanged: false,
    };
    if (!compact && tooLarge) {
      say(`build: warning: the delta has ${deltaBytes} bytes of vectors, over ${DELTA_BYTES_LIMIT}: a worker with the default CACHE_BUDGET_BYTES refuses it (503 index_too_large); \`i3 compact\` it (or update with --compact-above)`);
    } else if (!compact && (delta?.documents ?? 0) + dead.size > 0.1 * m.corpus.documents) {
      say(`build: the delta and the tombstones pass a tenth of the base (${(delta?.documents ?? 0) + dead.size} of ${m.corpus.documents} documents): every query scans the delta, and BM25 counts the replaced documents; \`i3 compact\` it (or update with --compact-above 0.1)`);
    }
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

/** The upserted documents (checked as a corpus is) and the ids to delete, from the update's files. */
async function changes(o: UpdateOptions, m: Manifest, skipEmpty: boolean): Promise<{ upserts: Doc[]; deletes: string[] }> {
  const upserts: Doc[] = [];
  if (o.upsert) for await (const { doc } of readCorpus(await resolveCorpusPath(o.upsert), { fields: m.fields?.schema, skipEmpty })) upserts.push(doc);
  return { upserts, deletes: o.delete ? await readIds(o.delete) : [] };
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
  for (const id of ids) {
    const b = idBucketOf(id, B);
    const list = byBucket.get(b);
    if (list) list.push(id);
    else byBucket.set(b, [id]);
  }
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
async function encodeUpserts(
  file: string, o: UpdateOptions, base: { m: Manifest; info: BuildInfo; passage: "fp32" | "int8" }, partial: string, say: (s: string) => void,
): Promise<BuildDir> {
  const { m, info, passage } = base;
  const f = info.fingerprint;
  const dir = path.join(partial, "upserts");
  say(`build: encoding the upserted documents of ${file}`);
  await buildIndex({
    corpus: file, model: o.model, out: dir, force: true, device: o.device, encoder: o.encoder, threads: o.threads, passage,
    window: f.window, stride: f.stride, split: f.split, batch: f.batch, shardSize: f.shardSize, docsPerBlock: f.docsPerBlock,
    lexical: false, partitioning: { partitions: 1 }, fields: m.fields?.schema, id: m.id,
    stderr: { write: (s: string) => { for (const l of s.split("\n").filter(Boolean)) say(`  ${l}`); } },
  });
  return openBuildDir(dir);
}

/** The base's manifest with the new delta and tombstones in place of the old (manifest 3.0). */
function updatedManifest(m: Manifest, delta: DeltaSection | undefined, tombstones: ObjectRef | undefined): Manifest {
  const old = new Set([...(m.delta ? deltaObjects(m.delta).map((x) => x.ref) : []), ...(m.tombstones ? [m.tombstones] : [])].map((r) => r.path));
  const { delta: _d, tombstones: _t, ...rest } = m;
  const next: Manifest = {
    ...rest,
    // Nothing left of the updates (their documents deleted again): a plain manifest, as the base's.
    version: delta || tombstones ? { ...DELTA_MANIFEST_VERSION } : { ...MANIFEST_VERSION },
    ...(delta ? { delta } : {}),
    ...(tombstones ? { tombstones } : {}),
    objects: [...m.objects.filter((r) => !old.has(r.path)), ...(delta ? deltaObjects(delta).map((x) => x.ref) : []), ...(tombstones ? [tombstones] : [])],
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
