// The two object writers of a build: vector shards of `shardSize` passages and doc blocks of `docsPerBlock`
// documents. Both take rows in order and flush full objects; build and merge share them, so a merge of slices
// re-chunks exactly as one build would.
import {
  codeBytes, encodeDocBlock, encodeShard, quantizeInt8, signCodes, type Doc, type ObjectRef,
} from "../../src/format/index.ts";
import type { ObjectStore } from "./object-store.ts";

/** Quantized passage vectors with their doc ordinals: what a shard is made of. */
export interface QuantizedRows {
  count: number;
  vectors: Int8Array;
  scales: Float32Array;
  codes: Uint8Array;
  ordinals: Uint32Array;
  /** The float vectors the rows were quantized from (the partition step clusters and refines from them). */
  floats?: Float32Array;
}

/** Float vectors -> int8 + per-vector scale, sign codes from the floats (keeps tiny positives, see encodeShard). */
export function quantizeRows(floats: Float32Array, dim: number, ordinals: Uint32Array): QuantizedRows {
  const q = quantizeInt8(floats, dim);
  return { count: ordinals.length, vectors: q.vectors, scales: q.scales, codes: signCodes(floats, dim), ordinals, floats };
}

/** A written shard with the passage and doc ranges it holds (the checkpoint keeps these). */
export interface ShardDone {
  ref: ObjectRef;
  firstPassage: number;
  count: number;
  firstDoc: number;
  lastDoc: number;
}

export interface ShardWriter {
  /** Appends rows (in passage order); writes every shard that fills up. */
  add(rows: QuantizedRows): Promise<void>;
  /** Writes the last, partial shard. */
  finish(): Promise<void>;
  /** Passages added so far (= global passage ordinal of the next row). */
  readonly passages: number;
}

export function createShardWriter(opts: {
  store: ObjectStore;
  dim: number;
  shardSize: number;
  /** Passage ordinal of the first row added (a resumed build starts after its finished shards). */
  firstPassage?: number;
  onShard: (s: ShardDone) => Promise<void> | void;
  /** Receives each shard's float rows (when the rows carry them) before `onShard`. */
  onFloats?: (firstPassage: number, floats: Float32Array) => Promise<void>;
}): ShardWriter {
  const { store, dim, shardSize } = opts;
  const cb = codeBytes(dim);
  const buf = {
    vectors: new Int8Array(shardSize * dim),
    scales: new Float32Array(shardSize),
    codes: new Uint8Array(shardSize * cb),
    ordinals: new Uint32Array(shardSize),
    floats: opts.onFloats ? new Float32Array(shardSize * dim) : undefined,
  };
  let fill = 0;
  let first = opts.firstPassage ?? 0;

  async function flush(): Promise<void> {
    if (fill === 0) return;
    const bytes = encodeShard({
      dims: dim,
      vectors: buf.vectors.subarray(0, fill * dim),
      scales: buf.scales.subarray(0, fill),
      codes: buf.codes.subarray(0, fill * cb),
      ordinals: buf.ordinals.subarray(0, fill),
      firstPassage: first,
    });
    const ref = await store.write("shard", bytes, { count: fill });
    if (opts.onFloats && buf.floats) await opts.onFloats(first, buf.floats.slice(0, fill * dim));
    const done: ShardDone = { ref, firstPassage: first, count: fill, firstDoc: buf.ordinals[0], lastDoc: buf.ordinals[fill - 1] };
    first += fill;
    fill = 0;
    await opts.onShard(done);
  }

  return {
    get passages() {
      return first + fill;
    },
    async add(rows) {
      let i = 0;
      while (i < rows.count) {
        const n = Math.min(rows.count - i, shardSize - fill);
        buf.vectors.set(rows.vectors.subarray(i * dim, (i + n) * dim), fill * dim);
        buf.scales.set(rows.scales.subarray(i, i + n), fill);
        buf.codes.set(rows.codes.subarray(i * cb, (i + n) * cb), fill * cb);
        buf.ordinals.set(rows.ordinals.subarray(i, i + n), fill);
        if (buf.floats && rows.floats) buf.floats.set(rows.floats.subarray(i * dim, (i + n) * dim), fill * dim);
        fill += n;
        i += n;
        if (fill === shardSize) await flush();
      }
    },
    finish: flush,
  };
}

export interface DocBlockWriter {
  add(doc: Doc): Promise<void>;
  finish(): Promise<void>;
  /** Documents added so far (= ordinal of the next document). */
  readonly docs: number;
}

/** Bytes of records after which the build starts a new doc block (well under INDEX_LIMITS.maxObjectBytes). */
export const DOC_BLOCK_BYTES = 8 * 1024 * 1024;

export function createDocBlockWriter(opts: {
  store: ObjectStore;
  docsPerBlock: number;
  /** A block is cut before it would pass this many bytes of records (default DOC_BLOCK_BYTES). */
  maxBlockBytes?: number;
  firstDoc?: number;
  onBlock: (ref: ObjectRef & { first: number; count: number }) => Promise<void> | void;
}): DocBlockWriter {
  const maxBytes = opts.maxBlockBytes ?? DOC_BLOCK_BYTES;
  let docs: Doc[] = [];
  let bytes = 0;
  let first = opts.firstDoc ?? 0;
  async function flush(): Promise<void> {
    if (docs.length === 0) return;
    const count = docs.length;
    const ref = await opts.store.write("docs", encodeDocBlock(docs, first), { count });
    const block = { ...ref, first, count };
    first += count;
    docs = [];
    bytes = 0;
    await opts.onBlock(block);
  }
  return {
    get docs() {
      return first + docs.length;
    },
    async add(doc) {
      // Cut by count, and by bytes: long documents must not make a block larger than an object may be.
      const size = Buffer.byteLength(JSON.stringify(doc)) + 4;
      if (docs.length > 0 && bytes + size > maxBytes) await flush();
      docs.push(doc);
      bytes += size;
      if (docs.length === opts.docsPerBlock) await flush();
    },
    finish: flush,
  };
}
