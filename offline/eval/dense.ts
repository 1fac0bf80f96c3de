/**
 * Dense exact search: encode passages and queries with onnxruntime-node, exact float32 inner product, top k.
 *
 * Passage text = title + " " + text (title non-empty), tokenized with the model's tokenizer and truncated to
 * model.json's maxPassageTokens (default 128); queries to maxQueryTokens (default 128). Passages are sorted by
 * token count into batches so that little padding is computed. No normalization is applied here: the score is
 * the raw inner product of the model's outputs (the USE-lite model outputs unit vectors).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createNodeEncoder, type Device, type NodeEncoder } from "../encoder/node-encoder.ts";
import { topK } from "./topk.ts";
import type { Hit, Run } from "./metrics.ts";

export interface DenseModel {
  name: string;
  queryOnnx: string;
  passageOnnx: string;
  vocab: string;
  maxQueryTokens: number;
  maxPassageTokens: number;
}

export interface ModelJson {
  name?: string;
  dim?: number;
  maxQueryTokens?: number;
  maxPassageTokens?: number;
  normalized?: boolean;
  query?: string;
  passage?: string;
  vocab?: string;
}

function mustExist(path: string, what: string): string {
  if (!existsSync(path)) throw new Error(`${what} not found: ${path}`);
  return path;
}

/**
 * `--model` as a directory (models/<name>/ with model.json naming query/passage ONNX files and the vocab) or
 * as one .onnx file used for both sides (vocab: `vocabOverride`, else model.json or vocab.json beside it).
 */
export function resolveModel(arg: string, vocabOverride?: string): DenseModel {
  if (!existsSync(arg)) throw new Error(`model not found: ${arg} (expected "bm25", a models/<name> directory or a .onnx file)`);
  const isDir = statSync(arg).isDirectory();
  const dir = isDir ? arg : dirname(arg);
  const mjPath = join(dir, "model.json");
  let mj: ModelJson = {};
  if (existsSync(mjPath)) {
    try {
      mj = JSON.parse(readFileSync(mjPath, "utf8")) as ModelJson;
    } catch (e) {
      throw new Error(`${mjPath}: invalid JSON (${(e as Error).message})`);
    }
  } else if (isDir) {
    throw new Error(`${mjPath} not found: a model directory needs a model.json sidecar (see docs/ARCHITECTURE.md)`);
  }
  let queryOnnx: string, passageOnnx: string;
  if (isDir) {
    if (!mj.query || !mj.passage) throw new Error(`${mjPath}: "query" and "passage" (ONNX file names) are required`);
    queryOnnx = mustExist(join(dir, mj.query), `query model (${mjPath} "query")`);
    passageOnnx = mustExist(join(dir, mj.passage), `passage model (${mjPath} "passage")`);
  } else {
    if (!arg.endsWith(".onnx")) throw new Error(`--model file must be a .onnx file: ${arg}`);
    queryOnnx = passageOnnx = arg;
  }
  const vocab = vocabOverride
    ? mustExist(vocabOverride, "--vocab")
    : mustExist(join(dir, mj.vocab ?? "vocab.json"), `vocab (pass --vocab, or put vocab.json next to the model)`);
  const win = (v: number | undefined, key: string) => {
    if (v === undefined) return 128;
    if (!Number.isInteger(v) || v < 1) throw new Error(`${mjPath}: "${key}" must be a positive integer`);
    return v;
  };
  return {
    name: mj.name ?? (isDir ? basename(arg) : basename(arg, ".onnx")),
    queryOnnx,
    passageOnnx,
    vocab,
    maxQueryTokens: win(mj.maxQueryTokens, "maxQueryTokens"),
    maxPassageTokens: win(mj.maxPassageTokens, "maxPassageTokens"),
  };
}

export type Encode = (text: string) => number[];

/** The project tokenizer (src/text/tokenizer, being written alongside), loaded lazily so BM25 needs none of it. */
export async function loadTokenizer(vocabPath: string): Promise<Encode> {
  let vocab: Array<[string, number]>;
  try {
    vocab = JSON.parse(readFileSync(vocabPath, "utf8"));
  } catch (e) {
    throw new Error(`${vocabPath}: cannot read vocab (${(e as Error).message})`);
  }
  if (!Array.isArray(vocab)) throw new Error(`${vocabPath}: expected a JSON array of [piece, score]`);
  const mod = (await import("../../src/text/tokenizer/index.ts")) as {
    createTokenizer: (v: Array<[string, number]>) => { encode(text: string): number[] };
  };
  const tok = mod.createTokenizer(vocab);
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
      const idx = topK(sc, k);
      res.push({ idx, scores: Float32Array.from(idx, (i) => sc[i]) });
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

/** Encodes the stored passages and the queries, searches exactly; returns the run and encoding stats. */
export async function denseRun(
  model: DenseModel,
  store: PassageStore,
  queries: Array<{ id: string; text: string }>,
  encodeText: Encode,
  k: number,
  opts: DenseOptions,
): Promise<{ run: Run; stats: EncodeStats; dim: number }> {
  const penc = await createNodeEncoder({
    modelPath: model.passageOnnx,
    device: opts.device,
    intraOpThreads: opts.threads,
    maxLen: model.maxPassageTokens,
    log: opts.log,
  });
  const n = store.ids.length;
  opts.log(`encoding ${n} passages with ${basename(model.passageOnnx)} (${penc.provider}, dim ${penc.dim}, batch ${opts.batchSize})`);
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
    modelPath: model.queryOnnx,
    device: opts.device,
    intraOpThreads: opts.threads,
    maxLen: model.maxQueryTokens,
    log: () => {}, // a CUDA fallback was already reported for the passage side
  });
  if (qe.dim !== dim) throw new Error(`query model dim ${qe.dim} != passage model dim ${dim}`);
  const qTokens = queries.map((q) => Int32Array.from(encodeText(q.text).slice(0, model.maxQueryTokens)));
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
