/**
 * Dense exact search, the reference the int8 index is compared with: encode passages and queries with
 * onnxruntime-node (the model's full-precision query model, not the edge one), exact float32 inner product, top k.
 *
 * Passage text = src/text/passages.ts passageText, tokenized with the model's tokenizer and truncated to model.json's
 * maxPassageTokens (one passage per document: its first window); queries to maxQueryTokens. Passages are sorted by
 * token count into batches so that little padding is computed. No normalization is applied here: the score is
 * the raw inner product of the model's outputs (the USE-lite model outputs unit vectors).
 */
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { createNodeEncoder, type Device, type NodeEncoder } from "../encoder/node-encoder.ts";
import { readCorpus } from "../build/corpus.ts";
import type { LoadedModel } from "../build/model.ts";
import { createTopK } from "../../src/search/topk.ts";
import { passageText } from "../../src/text/passages.ts";
import { createTokenizer } from "../../src/text/tokenizer/index.ts";
import type { Hit, Run } from "./metrics.ts";

export type Encode = (text: string) => number[];

/** A tokenizer from a vocab file (the project tokenizer, src/text/tokenizer). */
export async function loadTokenizer(vocabPath: string): Promise<Encode> {
  let vocab: Array<[string, number]>;
  try {
    vocab = JSON.parse(readFileSync(vocabPath, "utf8"));
  } catch (e) {
    throw new Error(`${vocabPath}: cannot read vocab (${(e as Error).message})`);
  }
  if (!Array.isArray(vocab)) throw new Error(`${vocabPath}: expected a JSON array of [piece, score]`);
  const tok = createTokenizer(vocab);
  return (text) => tok.encode(text);
}

/** Passages held as token ids (already truncated) while the corpus streams by. */
export class PassageStore {
  readonly ids: string[] = [];
  readonly tokens: Int32Array[] = [];
  constructor(
    private readonly encodeText: Encode,
    private readonly maxTokens: number,
  ) {}
  add(id: string, text: string): void {
    const t = this.encodeText(text);
    this.ids.push(id);
    this.tokens.push(Int32Array.from(t.length > this.maxTokens ? t.slice(0, this.maxTokens) : t));
  }
}

export interface EncodeStats {
  passages: number;
  seconds: number;
  perSecond: number;
  provider: string;
}

/** Encodes all rows, batched by ascending length. Returns [N * dim] in the original order. */
export async function encodeAll(
  enc: NodeEncoder,
  rows: Int32Array[],
  batchSize: number,
  onProgress?: (done: number) => void,
): Promise<Float32Array> {
  const n = rows.length;
  const D = enc.dim;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => rows[a].length - rows[b].length || a - b);
  const out = new Float32Array(n * D);
  for (let s = 0; s < n; s += batchSize) {
    const idx = order.slice(s, s + batchSize);
    const emb = await enc.encode(idx.map((i) => Array.from(rows[i])));
    idx.forEach((row, j) => out.set(emb.subarray(j * D, (j + 1) * D), row * D));
    onProgress?.(Math.min(n, s + batchSize));
  }
  return out;
}

/**
 * Exact inner product search: for each query row, top k passage indices and scores. Queries are processed in
 * blocks of 16 so that each passage row is read from memory once per block (the passage matrix is large).
 */
export function exactSearch(
  passages: Float32Array,
  nPassages: number,
  queries: Float32Array,
  nQueries: number,
  dim: number,
  k: number,
): Array<{ idx: Int32Array; scores: Float32Array }> {
  const BLOCK = 16;
  const scores = Array.from({ length: Math.min(BLOCK, nQueries) }, () => new Float32Array(nPassages));
  const res: Array<{ idx: Int32Array; scores: Float32Array }> = [];
  for (let q0 = 0; q0 < nQueries; q0 += BLOCK) {
    const nb = Math.min(BLOCK, nQueries - q0);
    for (let p = 0; p < nPassages; p++) {
      const po = p * dim;
      for (let b = 0; b < nb; b++) {
        const qo = (q0 + b) * dim;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let j = 0;
        for (; j + 3 < dim; j += 4) {
          s0 += passages[po + j] * queries[qo + j];
          s1 += passages[po + j + 1] * queries[qo + j + 1];
          s2 += passages[po + j + 2] * queries[qo + j + 2];
          s3 += passages[po + j + 3] * queries[qo + j + 3];
        }
        for (; j < dim; j++) s0 += passages[po + j] * queries[qo + j];
        scores[b][p] = s0 + s1 + (s2 + s3);
      }
    }
    for (let b = 0; b < nb; b++) {
      const sc = scores[b];
      const top = createTopK(Math.min(k, nPassages));
      for (let p = 0; p < nPassages; p++) top.push(p, sc[p]);
      const best = top.sorted();
      res.push({ idx: Int32Array.from(best, (h) => h.id), scores: Float32Array.from(best, (h) => h.score) });
    }
  }
  return res;
}

export interface DenseOptions {
  device: Device;
  threads?: number;
  batchSize: number;
  log: (msg: string) => void;
}

/**
 * Reads the corpus into a PassageStore (empty documents skipped) and searches it exactly.
 *
 * @example
 * const { run } = await exactRun(await loadModel("models/i3-scifact"), "data/scifact/corpus.jsonl", queries, 1000, opts);
 */
export async function exactRun(
  model: LoadedModel,
  corpusFile: string,
  queries: Array<{ id: string; text: string }>,
  k: number,
  opts: DenseOptions,
): Promise<{ run: Run; stats: EncodeStats; docs: number }> {
  const tok = createTokenizer(model.vocab);
  const encode: Encode = (text) => tok.encode(text);
  const store = new PassageStore(encode, model.sidecar.maxPassageTokens);
  const t0 = performance.now();
  let skipped = 0;
  for await (const { doc } of readCorpus(corpusFile, { skipEmpty: true, onSkip: () => skipped++ })) store.add(doc.id, passageText(doc));
  opts.log(`read ${store.ids.length} docs in ${((performance.now() - t0) / 1000).toFixed(1)} s${skipped ? ` (${skipped} empty documents skipped)` : ""}`);
  const { run, stats } = await denseRun(model, store, queries, encode, k, opts);
  return { run, stats, docs: store.ids.length };
}

/** Encodes the stored passages and the queries, searches exactly; returns the run and encoding stats. */
export async function denseRun(
  model: LoadedModel,
  store: PassageStore,
  queries: Array<{ id: string; text: string }>,
  encodeText: Encode,
  k: number,
  opts: DenseOptions,
): Promise<{ run: Run; stats: EncodeStats; dim: number }> {
  const { maxPassageTokens, maxQueryTokens } = model.sidecar;
  const queryOnnx = join(model.dir, model.sidecar.query);
  const penc = await createNodeEncoder({
    modelPath: model.passagePath,
    device: opts.device,
    intraOpThreads: opts.threads,
    maxLen: maxPassageTokens,
    log: opts.log,
  });
  const n = store.ids.length;
  opts.log(`encoding ${n} passages with ${basename(model.passagePath)} (${penc.provider}, dim ${penc.dim}, batch ${opts.batchSize})`);
  const t0 = performance.now();
  let lastLog = t0;
  const P = await encodeAll(penc, store.tokens, opts.batchSize, (done) => {
    const now = performance.now();
    if (now - lastLog > 10_000) {
      lastLog = now;
      opts.log(`  ${done}/${n} passages, ${(done / ((now - t0) / 1000)).toFixed(1)} passages/s`);
    }
  });
  const seconds = (performance.now() - t0) / 1000;
  const stats: EncodeStats = { passages: n, seconds, perSecond: n / seconds, provider: penc.provider };
  opts.log(`passage encoding: ${n} passages in ${seconds.toFixed(1)} s = ${stats.perSecond.toFixed(1)} passages/s (${penc.provider}${opts.threads ? `, ${opts.threads} threads` : ""})`);
  const dim = penc.dim;
  await penc.close();

  const qe = await createNodeEncoder({
    modelPath: queryOnnx,
    device: opts.device,
    intraOpThreads: opts.threads,
    maxLen: maxQueryTokens,
    log: () => {}, // a CUDA fallback was already reported for the passage side
  });
  if (qe.dim !== dim) throw new Error(`query model dim ${qe.dim} != passage model dim ${dim}`);
  const qTokens = queries.map((q) => Int32Array.from(encodeText(q.text).slice(0, maxQueryTokens)));
  const Q = await encodeAll(qe, qTokens, opts.batchSize);
  await qe.close();

  const t1 = performance.now();
  const found = exactSearch(P, n, Q, queries.length, dim, k);
  opts.log(`exact search: ${queries.length} queries x ${n} passages in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  const run: Run = new Map();
  queries.forEach((q, i) => {
    const hits: Hit[] = [];
    const f = found[i];
    for (let j = 0; j < f.idx.length; j++) hits.push({ id: store.ids[f.idx[j]], score: f.scores[j] });
    run.set(q.id, hits);
  });
  return { run, stats, dim };
}
