// The delta of an incremental update (src/format/delta-section.ts): the previous delta's documents that stay, their
// rows copied (never encoded again), then the upserted documents, their rows from the upsert build; doc blocks, BM25
// objects, id index and field columns made from the delta's documents.
import {
  decodeDocBlock, decodeShard, type DeltaSection, type Doc, type DocBlockRef, type Manifest, type ObjectRef,
} from "../../src/format/index.ts";
import type { BuildDir } from "./build-dir.ts";
import type { BuildInfo } from "./build-info.ts";
import { writeLexical } from "./bm25.ts";
import { writeFieldColumns } from "./fields.ts";
import { writeIdIndex } from "./id-index.ts";
import type { ObjectStore } from "./object-store.ts";
import { createDocBlockWriter, createShardWriter } from "./writers.ts";

/**
 * The new delta: the kept documents of the previous delta (their rows copied), then the upserted ones (their rows
 * from the upsert build), renumbered from 0; its BM25 objects, id index and field columns made from its doc blocks.
 */
export async function writeDelta(a: {
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
