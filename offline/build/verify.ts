// The full check of a build directory before `i3 build` or `i3 merge` renames it into place: every object's size
// and sha256 (BuildDir.verify), then the headers of shards, doc blocks, id buckets and lexical objects against the manifest.
import {
  checkFieldColumns, decodeFieldColumns, decodePartitionDocs, decodeTombstones,
  decodeIdBucket, decodeLexicalBucket, decodeLexicalNorms, decodeShard, readDocBlockHeader, type Manifest, type ObjectRef,
} from "../../src/format/index.ts";
import type { BuildDir } from "./build-dir.ts";
import { BuildError } from "./errors.ts";

/**
 * Verifies a whole build directory (each object read once; hashed unless its store already did).
 *
 * @example
 * await verifyBuild(await openBuildDir("out/scifact"));
 */
export async function verifyBuild(build: BuildDir, opts: { trusted?: ReadonlySet<string> } = {}): Promise<void> {
  await build.verify();
  const m = build.manifest;
  const check = headerCheck(m);
  // An updated version's delta: its objects checked like the base's, against the delta's own counts.
  const delta = m.delta && headerCheck({
    ...m, corpus: { ...m.corpus, documents: m.delta.documents },
    partitions: [{ id: 0, centroid: null, shards: m.delta.shards }],
    docs: { blocks: m.delta.docs.blocks, ids: m.delta.docs.ids },
    lexical: m.lexical && m.delta.lexical && { ...m.lexical, ...m.delta.lexical },
    fields: m.fields && m.delta.fields && { schema: m.fields.schema, columns: m.delta.fields.columns },
  });
  for (const o of build.objects) {
    // Objects of a verified base an update links: present and of their size (build.verify), not read again.
    if (opts.trusted?.has(o.path)) continue;
    try {
      const bytes = await build.readObject(o);
      check(o, bytes);
      delta?.(o, bytes);
      if (o.path === m.tombstones?.path) {
        const t = decodeTombstones(bytes);
        if (t.documents !== m.corpus.documents || t.deleted !== o.count) throw new BuildError("invalid_build", `tombstones ${o.path}: ${t.deleted} of ${t.documents} documents, manifest ${o.count} of ${m.corpus.documents}`);
      }
    } catch (e) {
      if (e instanceof BuildError) throw new BuildError("invalid_build", `build ${build.dir}: ${e.message}`, { cause: e });
      throw new BuildError("invalid_build", `build ${build.dir}: object ${o.path}: ${(e as Error).message}`, { cause: e });
    }
  }
}

/** Checks an object's header against what the manifest says of it (objects without a header pass). */
function headerCheck(m: Manifest): (o: ObjectRef, b: Uint8Array) => void {
  const fail = (msg: string) => new BuildError("invalid_build", msg);
  const shardPaths = new Set(m.partitions.flatMap((p) => p.shards.map((s) => s.path)));
  const blockPaths = new Set(m.docs.blocks.map((b) => b.path));
  const bucketIds = new Map((m.lexical?.buckets ?? []).map((b, i) => [b.path, i]));
  const normsPath = m.lexical?.norms.path;
  const fields = m.fields;
  const idBuckets = new Map((m.docs.ids?.buckets ?? []).map((b, i) => [b.path, i]));
  return (o, b) => {
    if (fields && o.path === fields.columns.path) return checkFieldColumns(fields.schema, decodeFieldColumns(b), m.corpus.documents);
    if (fields?.partitionDocs && o.path === fields.partitionDocs.path) {
      const pd = decodePartitionDocs(b);
      if (pd.offsets.length !== m.partitions.length + 1 || pd.documents !== m.corpus.documents) {
        throw fail(`partition documents ${o.path}: ${pd.offsets.length - 1} partitions of ${pd.documents} documents, manifest ${m.partitions.length} of ${m.corpus.documents}`);
      }
      return;
    }
    if (shardPaths.has(o.path)) {
      const { header } = decodeShard(b);
      if (header.count !== o.count || header.dims !== m.vectors.dim) {
        throw fail(`shard ${o.path}: header says ${header.count} x ${header.dims}, manifest ${o.count} x ${m.vectors.dim}`);
      }
    } else if (blockPaths.has(o.path)) {
      const h = readDocBlockHeader(b);
      if (h.count !== o.count) throw fail(`doc block ${o.path}: header says ${h.count} docs, manifest ${o.count}`);
    } else if (bucketIds.has(o.path)) {
      const lb = decodeLexicalBucket(b);
      if (lb.id !== bucketIds.get(o.path) || lb.buckets !== bucketIds.size || lb.terms.size !== o.count) {
        throw fail(`lexical bucket ${o.path}: header says bucket ${lb.id} of ${lb.buckets} with ${lb.terms.size} terms, manifest ${bucketIds.get(o.path)} of ${bucketIds.size} with ${o.count}`);
      }
    } else if (idBuckets.has(o.path)) {
      const ib = decodeIdBucket(b, m.corpus.documents);
      if (ib.id !== idBuckets.get(o.path) || ib.buckets !== idBuckets.size || ib.ordinals.size !== o.count) {
        throw fail(`id bucket ${o.path}: header says bucket ${ib.id} of ${ib.buckets} with ${ib.ordinals.size} ids, manifest ${idBuckets.get(o.path)} of ${idBuckets.size} with ${o.count}`);
      }
    } else if (o.path === normsPath && decodeLexicalNorms(b).length !== o.count) {
      throw fail(`lexical norms ${o.path}: length differs from manifest count ${o.count}`);
    }
  };
}

