// The encoding pass of `i3 build`: stream the corpus, tokenize title + " " + text once, cut overlapping windows
// (passages), encode them in length-sorted batches and write vector shards and doc blocks, with a checkpoint after
// every finished object.
//
// Encode buffers end at every passage ordinal that is a multiple of `sortBuffer` or of `shardSize`, so a resumed
// build (which restarts at a shard boundary) forms exactly the same batches as one that never stopped.
import type { Tokenizer } from "../../src/text/tokenizer/index.ts";
import { passageText, splitPassages } from "../../src/text/passages.ts";
import type { NodeEncoder } from "../encoder/node-encoder.ts";
import { nextResumePoint, writeCheckpoint, type Checkpoint, type ReadProgress } from "./checkpoint.ts";
import { readCorpus } from "./corpus.ts";
import { BuildError } from "./errors.ts";
import type { ObjectStore } from "./object-store.ts";
import { createProgress, type ProgressStream } from "./progress.ts";
import { createDocBlockWriter, createShardWriter, quantizeRows, type QuantizedRows, type ShardDone } from "./writers.ts";

/** The parameters that shape passages, batches and objects (all recorded in the fingerprint). */
export interface EncodeParams {
  window: number;
  stride: number;
  split: boolean;
  batch: number;
  shardSize: number;
  docsPerBlock: number;
  sortBuffer: number;
}

export interface EncodeJob {
  corpusFile: string;
  /** The corpus documents of this build (a slice): [first, end). */
  range: { first: number; end: number };
  /** The build's checkpoint: finished shards and blocks, and where to resume; updated as objects are written. */
  state: Checkpoint;
  store: ObjectStore;
  encoder: NodeEncoder;
  tokenizer: Tokenizer;
  params: EncodeParams;
  /** The model directory, for error messages. */
  model: string;
  stderr: ProgressStream;
  progressEveryMs?: number;
  /** Called after each shard is written and checkpointed; a throw stops the build as a crash would (tests). */
  onShardWritten?: (shardsThisRun: number) => void;
  /** Receives each shard's float rows before it is checkpointed (the partition step reads them back). */
  onFloats?: (firstPassage: number, floats: Float32Array) => Promise<void>;
  /** Skip documents whose title and text are both empty (validated and counted before). */
  skipEmpty?: boolean;
}

/** What the pass read: documents, passages and their tokens (before windowing). */
export interface Encoded {
  documents: number;
  passages: number;
  tokens: number;
}

interface Pending {
  ids: number[];
  doc: number;
}

/**
 * Encodes the documents of `job.range` not yet in finished objects, into shards and doc blocks.
 *
 * @example
 * const { documents, passages } = await encodeCorpus({ corpusFile, range, state, store, encoder, tokenizer, params, model, stderr });
 */
export async function encodeCorpus(job: EncodeJob): Promise<Encoded> {
  const { state, params } = job;
  const passagesDone = state.shards.reduce((n, s) => n + s.count, 0);
  const docsInBlocks = state.blocks.reduce((n, b) => n + b.count, 0);
  const resume = state.resume;
  const read: ReadProgress = { docsRead: resume.doc, passagesRead: resume.passage, tokens: resume.tokensBefore, docStarts: [] };
  const checkpoint = () => {
    state.resume = nextResumePoint(state, read);
    writeCheckpoint(job.store.dir, state);
  };

  let shardsThisRun = 0;
  const shardWriter = createShardWriter({
    store: job.store, dim: job.encoder.dim, shardSize: params.shardSize, firstPassage: passagesDone, onFloats: job.onFloats,
    onShard: (s: ShardDone) => {
      state.shards.push(s);
      checkpoint();
      job.onShardWritten?.(++shardsThisRun);
    },
  });
  const docWriter = createDocBlockWriter({
    store: job.store, docsPerBlock: params.docsPerBlock, firstDoc: docsInBlocks,
    onBlock: (ref) => {
      state.blocks.push(ref);
      checkpoint();
    },
  });
  const queue = createEncodeQueue(job, (rows) => shardWriter.add(rows));
  const progress = createProgress({ stream: job.stderr, totalDocs: job.range.end - job.range.first, startPassages: passagesDone, everyMs: job.progressEveryMs });

  for await (const { line, doc, d } of documentsToRead(job)) {
    const ids = job.tokenizer.encode(passageText(doc));
    if (ids.length === 0) throw new BuildError("invalid_corpus", `${job.corpusFile}:${line}: document ${JSON.stringify(doc.id)} has no tokens`);
    read.docStarts.push({ doc: d, line, passage: read.passagesRead, tokensBefore: read.tokens });
    read.tokens += ids.length;
    read.docsRead = d + 1;
    for (const p of splitPassages(ids, params.window, params.stride, params.split)) {
      const ordinal = read.passagesRead++;
      if (ordinal < passagesDone) continue;
      queue.add({ ids: p, doc: d });
      if (read.passagesRead % params.sortBuffer === 0 || read.passagesRead % params.shardSize === 0) await queue.flush();
    }
    if (d >= docsInBlocks) await docWriter.add(doc);
    progress.update(shardWriter.passages, read.passagesRead, read.docsRead);
  }
  await queue.finish();
  await shardWriter.finish();
  await docWriter.finish();
  progress.end();

  const expected = job.range.end - job.range.first;
  if (read.docsRead !== expected) throw new BuildError("invalid_corpus", `${job.corpusFile}: expected ${expected} documents, read ${read.docsRead}`);
  return { documents: read.docsRead, passages: read.passagesRead, tokens: read.tokens };
}

/** The corpus documents of the range from the resume point on, with `d`, their ordinal in the range. */
async function* documentsToRead(job: EncodeJob) {
  const { first, end } = job.range;
  const resume = job.state.resume;
  let global = -1;
  for await (const { line, doc } of readCorpus(job.corpusFile, { checkIds: false, skipEmpty: job.skipEmpty })) {
    global++;
    if (global >= end) break;
    if (global < first) continue;
    const d = global - first;
    if (d < resume.doc) continue;
    if (d === resume.doc && resume.line !== null && resume.line !== line) {
      throw new BuildError("resume_mismatch", `${job.corpusFile}: doc ${d} is now on line ${line}, the checkpoint says ${resume.line} (corpus changed?); pass --restart`);
    }
    yield { line, doc, d };
  }
}

/**
 * Passages waiting for the encoder. `flush` hands the buffer over and returns once the previous one is encoded, so
 * reading the next buffer overlaps with encoding this one; `finish` encodes the rest and waits.
 */
function createEncodeQueue(job: EncodeJob, onRows: (rows: QuantizedRows) => Promise<void>) {
  let buffer: Pending[] = [];
  let pending: Promise<void> = Promise.resolve();
  const flush = async () => {
    const buf = buffer;
    buffer = [];
    await pending;
    pending = encodeBuffer(job, buf).then(onRows);
    pending.catch(() => {}); // awaited later; marked handled so a failure is not an unhandled rejection
  };
  return {
    add: (p: Pending) => void buffer.push(p),
    flush,
    async finish() {
      if (buffer.length) await flush();
      await pending;
    },
  };
}

/** Encodes a buffer in batches of passages of similar length; rows come back in buffer order, quantized. */
async function encodeBuffer(job: EncodeJob, buf: Pending[]): Promise<QuantizedRows> {
  const { encoder } = job;
  const { batch } = job.params;
  const dim = encoder.dim;
  const order = buf.map((_, i) => i).sort((a, b) => buf[a].ids.length - buf[b].ids.length);
  const floats = new Float32Array(buf.length * dim);
  for (let i = 0; i < order.length; i += batch) {
    const idx = order.slice(i, i + batch);
    const v = await encoder.encode(idx.map((j) => buf[j].ids));
    idx.forEach((j, r) => floats.set(v.subarray(r * dim, (r + 1) * dim), j * dim));
  }
  for (let i = 0; i < floats.length; i++) {
    if (!Number.isFinite(floats[i])) throw new BuildError("invalid_model", `model ${job.model}: non-finite embedding for a passage of doc ${buf[Math.floor(i / dim)].doc}`);
  }
  return quantizeRows(floats, dim, Uint32Array.from(buf, (p) => p.doc));
}
