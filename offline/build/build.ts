// `i3 build`: corpus in, index directory out.
//
// Pipeline: validate the corpus -> encode it into vector shards and doc blocks (encode-corpus.ts) -> the BM25
// section from the doc blocks (bm25.ts) -> the manifest. Everything is written into `<out>.partial/`, with a
// checkpoint after every finished object; the directory is verified and renamed to `<out>` only when complete.
import { UsageError } from "../command.ts";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { decodeShard, DOCS_PER_BLOCK, type FieldSpec, type LexicalSection, type ObjectRef } from "../../src/format/index.ts";
import { hybridWindow, searchOptions } from "../../src/search/modes.ts";
import { createTokenizer, type Tokenizer } from "../../src/text/tokenizer/index.ts";
import { type Device } from "../encoder/node-encoder.ts";
import { createQueryModelEncoder } from "../encoder/query-model.ts";
import { openPassageEncoder, type EncoderBackend } from "../encoder/passage-encoder.ts";
import { openCheckpoint, type Checkpoint, type Fingerprint } from "./checkpoint.ts";
import { resolveCorpusPath, validateCorpus, type CorpusDoc } from "./corpus.ts";
import { encodeCorpus, type EncodeParams, type Encoded } from "./encode-corpus.ts";
import { BuildError } from "./errors.ts";
import { assembleManifest, defaultIndexId, exists, finalizeBuild } from "./finalize.ts";
import { BUILD_DEFAULTS, type BuildInfo } from "./build-info.ts";
import { writeLexical, type LexicalOptions } from "./bm25.ts";
import { writeFieldColumns, writePartitionDocs } from "./fields.ts";
import { writeIdIndex } from "./id-index.ts";
import { loadModel, type LoadedModel, type ModelSidecar } from "./model.ts";
import { createObjectStore, type ObjectStore } from "./object-store.ts";
import { writePartitions, type PartitionedSection, type PartitionOptions } from "./partitions.ts";
import { encodeQueries, pseudoQueryTexts, PSEUDO_QUERY_SOURCE } from "./pseudo-queries.ts";
import { formatDuration, type ProgressStream } from "./progress.ts";
import { sliceRange, type Slice } from "./slice.ts";
import { adaptFusion, buildAdaptsFusion, statisticLine } from "./adapt-fusion.ts";
import type { PseudoFusionAnchor } from "./adaptive-fusion.ts";

export interface BuildOptions {
  /** corpus.jsonl, or a BEIR directory holding one. */
  corpus: string;
  /** Model directory with model.json. */
  model: string;
  out: string;
  device?: Device;
  /** Which library encodes the passages (default auto: offline/encoder/passage-encoder.ts). */
  encoder?: EncoderBackend;
  /**
   * The passage model: "fp32" (default) the model's `passage`; "int8" its `cpuPassage` (onnxruntime only: about twice
   * the passages/s on a CPU, nDCG@10 within 0.002 with every partition scanned; docs/RESULTS.md).
   */
  passage?: "fp32" | "int8";
  /** Passages per encoder call (default 32). */
  batch?: number;
  /** Passages per vector shard (default 8192). */
  shardSize?: number;
  /** Passage window in tokens (default and maximum: the model's maxPassageTokens). */
  window?: number;
  /** Tokens between window starts (default 3/4 of the window: 96 for 128). */
  stride?: number;
  /** Split documents into overlapping windows (default true); false = first window only. */
  split?: boolean;
  /** Build only slice k of n (contiguous document ranges). */
  slice?: Slice;
  /** Index id in the manifest (default: the name of `out`). */
  id?: string;
  /** Only the first `limit` documents of the corpus. */
  limit?: number;
  /** Discard `<out>.partial` instead of resuming it. */
  restart?: boolean;
  /** Replace an existing `<out>`. */
  force?: boolean;
  /** Documents per doc block (default DOCS_PER_BLOCK; tests use small blocks). */
  docsPerBlock?: number;
  /** Passages sorted by length together before batching (default batch * 16). */
  sortBuffer?: number;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** Write the BM25 lexical section (default true; `--no-lexical` skips it). */
  lexical?: boolean;
  /** BM25 parameters and search defaults of the lexical section. */
  lexicalOptions?: LexicalOptions;
  /** Where progress and the summary go (default process.stderr). */
  stderr?: ProgressStream;
  progressEveryMs?: number;
  /** Called after each shard is written and checkpointed; a throw stops the build as a crash would (tests). */
  onShardWritten?: (shardsThisRun: number) => void;
  /** Skip (and count) documents whose title and text are both empty instead of failing. */
  skipEmpty?: boolean;
  /** Partitions, probe and refine of the vectors (manifest 2.0); slices (`slice`) are not partitioned. */
  partitioning?: PartitionOptions;
  /** Filterable fields read from each document's metadata (`--fields`; manifest 2.1 `fields`). */
  fields?: FieldSpec[];
  /** A build of another version's documents (`i3 compact`): the versions it descends from, into build-info.json. */
  lineage?: string[];
}

export interface BuildSummary {
  out: string;
  documents: number;
  passages: number;
  /** Bytes of the vector shards per passage. */
  shardBytesPerPassage: number;
  /** Bytes of every object (shards, doc blocks, query model, vocab, lexical) per passage. */
  indexBytesPerPassage: number;
  /** Bytes of the lexical objects (buckets + norms), 0 without them. */
  lexicalBytes: number;
  indexBytes: number;
  seconds: number;
  passagesPerSecond: number;
  provider: string;
  resumed: boolean;
}

/** What a build is made of, resolved from its options: the corpus file, the model, the parameters. */
interface BuildPlan {
  corpusFile: string;
  model: LoadedModel;
  params: EncodeParams;
  fingerprint: Fingerprint;
}

/**
 * Builds an index directory from a corpus (resuming `<out>.partial` when it was started with the same arguments).
 *
 * @example
 * const summary = await buildIndex({ corpus: "data/scifact", model: "models/use-lite", out: "out/scifact" });
 */
export async function buildIndex(opts: BuildOptions): Promise<BuildSummary> {
  const t0 = performance.now();
  const stderr = opts.stderr ?? process.stderr;
  const say = (s: string) => stderr.write(s + "\n");
  const out = opts.out.replace(/\/+$/, "");
  const partial = `${out}.partial`;
  if (!opts.force && (await exists(out))) throw new BuildError("output_exists", `${out} already exists (pass --force to replace it)`);
  const plan = await planBuild(opts);
  const sc = plan.model.sidecar;

  // Validation pass: every line is checked (JSON, fields, UTF-8, duplicate ids) before anything is encoded or
  // written, and the documents are counted (slice ranges, ETA).
  say(`build: checking ${plan.corpusFile}`);
  const skipped: CorpusDoc[] = [];
  const reading = { skipEmpty: opts.skipEmpty, onSkip: (d: CorpusDoc) => skipped.push(d), fields: opts.fields };
  const corpusDocs = Math.min(await validateCorpus(plan.corpusFile, opts.limit, reading), opts.limit ?? Infinity);
  if (opts.skipEmpty) say(`build: skipping ${skipped.length} empty document(s)${skipped.length ? `: ${describeSkipped(plan.corpusFile, skipped)}` : ""}`);
  const range = sliceRange(corpusDocs, opts.slice);

  const { state, resumed } = await openCheckpoint(partial, plan.fingerprint, !!opts.restart);
  const passagesBefore = state.shards.reduce((n, s) => n + s.count, 0);
  if (resumed) say(`build: resuming ${partial}: ${state.shards.length} shards (${passagesBefore} passages) and ${state.blocks.length} doc blocks done`);
  const store = createObjectStore(partial);
  const query = await store.write("model", plan.model.queryBytes, { sha256: plan.model.hashes.query });
  const vocab = await store.write("vocab", plan.model.vocabBytes, { sha256: plan.model.hashes.vocab });
  const staticQuery = plan.model.static && (await store.write("static", plan.model.static.bytes, { sha256: plan.model.static.sha256 }));

  say(`build: passage model ${path.basename(plan.model.passagePath)}${plan.model.passagePath.endsWith(plan.model.sidecar.passage) ? "" : " (the model's int8 CPU passage model)"}`);
  const encoder = await openPassageEncoder({
    modelDir: opts.model, passagePath: plan.model.passagePath, device: opts.device ?? "auto", backend: opts.encoder,
    maxLen: plan.params.window, threads: opts.threads, log: say,
  });
  try {
    if (encoder.dim !== sc.dim) throw new BuildError("invalid_model", `model ${opts.model}: ${sc.passage} outputs dim ${encoder.dim}, model.json says ${sc.dim}`);
    const partitioned = !opts.slice && opts.partitioning?.partitions !== 1;
    const tokenizer = createTokenizer(plan.model.vocab);
    const encoded = await encodeCorpus({
      corpusFile: plan.corpusFile, range, state, store, encoder, tokenizer, params: plan.params,
      model: opts.model, stderr, progressEveryMs: opts.progressEveryMs, onShardWritten: opts.onShardWritten, skipEmpty: opts.skipEmpty,
      onFloats: partitioned ? (first, floats) => writeFloats(partial, first, floats) : undefined,
    });
    const lexical = opts.lexical === false ? undefined : await writeLexical(store, state.blocks, lexicalOptions(opts, sc));
    const ids = await writeIdIndex(store, state.blocks);
    const flat = state.shards.map((s) => s.ref);
    const section: PartitionedSection & { partitionDocs?: ObjectRef } = partitioned
      ? await partitionBuild({ partial, store, state, plan, tokenizer, dim: encoder.dim, documents: encoded.documents, lexical, opts, say })
      : ({ partitions: [{ id: 0, centroid: null, shards: flat }], search: {}, objects: [] } as PartitionedSection);
    const fields = opts.fields?.length
      ? { schema: opts.fields, columns: await writeFieldColumns(store, state.blocks, opts.fields), partitionDocs: section.partitionDocs }
      : undefined;
    const manifest = assembleManifest({
      id: opts.id ?? defaultIndexId(out),
      documents: encoded.documents, passages: encoded.passages, tokens: encoded.tokens, dim: encoder.dim,
      normalized: sc.normalized, modelName: sc.name, maxQueryTokens: sc.maxQueryTokens,
      query, vocab, staticQuery, defaultEncoder: sc.defaultEncoder, queryGraph: plan.model.sidecar.edgeQueryGraph, window: plan.params.window, stride: plan.params.stride, split: plan.params.split,
      partitions: section.partitions, centroids: section.centroids, search: section.search,
      blocks: state.blocks,
      ids,
      lexical, fields,
    });
    const info: BuildInfo = {
      fingerprint: plan.fingerprint, slice: opts.slice ?? null, firstDoc: range.first, corpusDocuments: corpusDocs, tokens: encoded.tokens,
      ...(opts.skipEmpty ? { skippedEmpty: skipped.length } : {}),
      ...(opts.lineage ? { lineage: opts.lineage } : {}),
    };
    const indexBytes = await finalizeBuild(store, out, manifest, info, !!opts.force);
    if (lexical && !opts.slice && buildAdaptsFusion(sc.pseudoFusion, opts.lexicalOptions?.fusion)) await adaptBuildFusion(out, sc.pseudoFusion, opts, say);

    const seconds = (performance.now() - t0) / 1000;
    const summary = summarize({ out, encoded, indexBytes, seconds, shards: state.shards.map((s) => s.ref), lexical, encodedThisRun: encoded.passages - passagesBefore, provider: encoder.provider, resumed });
    say(summaryLine(summary, plan.params, lexical, encoded.passages - passagesBefore));
    return summary;
  } finally {
    await encoder.close();
  }
}

/** Resolves and checks the corpus path, the model and the parameters; the fingerprint a resume must match. */
async function planBuild(opts: BuildOptions): Promise<BuildPlan> {
  const corpusFile = await resolveCorpusPath(opts.corpus);
  // `--passage int8`: the model's int8 CPU passage model (onnxruntime only; PyTorch runs the reference weights).
  const int8 = opts.passage === "int8";
  if (int8 && opts.encoder === "torch") throw new UsageError("--passage int8 runs in onnxruntime only (--encoder torch runs the reference weights)");
  const model = await loadModel(opts.model, { cpuPassage: int8 });
  const sc = model.sidecar;
  if (int8 && !sc.cpuPassage) throw new UsageError(`--passage int8: model ${opts.model} has no "cpuPassage" in its model.json`);
  const window = opts.window ?? sc.maxPassageTokens;
  if (!Number.isInteger(window) || window < 1 || window > sc.maxPassageTokens) {
    throw new UsageError(`--window must be in 1..${sc.maxPassageTokens} (the model's maxPassageTokens), got ${window}`);
  }
  const stride = opts.stride ?? Math.max(1, Math.round((window * 3) / 4));
  if (!Number.isInteger(stride) || stride < 1 || stride > window) throw new UsageError(`--stride must be in 1..${window} (the window), got ${stride}`);
  const batch = opts.batch ?? BUILD_DEFAULTS.batch;
  const params: EncodeParams = {
    window, stride, split: opts.split ?? true, batch,
    shardSize: opts.shardSize ?? BUILD_DEFAULTS.shardSize, docsPerBlock: opts.docsPerBlock ?? DOCS_PER_BLOCK,
    sortBuffer: opts.sortBuffer ?? batch * BUILD_DEFAULTS.sortBatches,
  };
  for (const k of ["batch", "shardSize", "docsPerBlock", "sortBuffer"] as const) {
    if (!Number.isInteger(params[k]) || params[k] < 1) throw new UsageError(`${k} must be a positive integer, got ${params[k]}`);
  }
  const cstat = await stat(corpusFile);
  const fingerprint: Fingerprint = {
    corpus: { path: path.resolve(corpusFile), bytes: cstat.size, mtimeMs: Math.floor(cstat.mtimeMs) },
    model: { name: sc.name, ...model.hashes },
    window, stride, split: params.split, shardSize: params.shardSize, batch, sortBuffer: params.sortBuffer, docsPerBlock: params.docsPerBlock,
    limit: opts.limit ?? null,
    slice: opts.slice ? `${opts.slice.k}/${opts.slice.n}` : null,
    ...(opts.skipEmpty ? { skipEmpty: true } : {}),
  };
  return { corpusFile, model, params, fingerprint };
}

/**
 * BM25 parameters and search defaults of the lexical section. Fusion: the model's tuned record (model.json
 * "fusion"), overridden by --fusion/--fusion-weight/--fusion-normalization.
 */
function lexicalOptions(opts: BuildOptions, sc: ModelSidecar): LexicalOptions {
  return { ...opts.lexicalOptions, fusion: { ...modelFusion(sc.fusion), ...opts.lexicalOptions?.fusion } };
}

function summarize(r: {
  out: string; encoded: Encoded; indexBytes: number; seconds: number; shards: ObjectRef[]; lexical?: LexicalSection;
  encodedThisRun: number; provider: string; resumed: boolean;
}): BuildSummary {
  const { passages, documents } = r.encoded;
  const shardBytes = r.shards.reduce((n, s) => n + s.bytes, 0);
  const lexicalBytes = r.lexical ? r.lexical.buckets.reduce((n, b) => n + b.bytes, r.lexical.norms.bytes) : 0;
  return {
    out: r.out, documents, passages,
    shardBytesPerPassage: passages ? shardBytes / passages : 0,
    indexBytesPerPassage: passages ? r.indexBytes / passages : 0,
    indexBytes: r.indexBytes, lexicalBytes, seconds: r.seconds,
    passagesPerSecond: r.encodedThisRun / r.seconds,
    provider: r.provider,
    resumed: r.resumed,
  };
}

function summaryLine(s: BuildSummary, p: EncodeParams, lexical: LexicalSection | undefined, encodedThisRun: number): string {
  return (
    `build: ${s.out}: ${s.documents} documents, ${s.passages} passages (window ${p.window}, stride ${p.split ? p.stride : "-, no split"}), ` +
    `${s.shardBytesPerPassage.toFixed(1)} vector bytes/passage, ${s.indexBytesPerPassage.toFixed(1)} index bytes/passage ` +
    `(${(s.indexBytes / 1e6).toFixed(2)} MB` +
    (lexical ? `; lexical ${(s.lexicalBytes / 1e6).toFixed(2)} MB: ${lexical.terms} terms in ${lexical.buckets.length} buckets, ${(s.lexicalBytes / s.passages).toFixed(1)} bytes/passage` : "; no lexical") +
    `), ${formatDuration(s.seconds)} (${s.seconds.toFixed(1)} s), ` +
    `${s.passagesPerSecond.toFixed(1)} passages/s${s.resumed ? ` (${encodedThisRun} encoded this run)` : ""}, provider ${s.provider}`
  );
}

export type { ObjectRef };

/** The fusion weight adapted to the corpus by the model's anchor, written into the finished build's manifest. */
async function adaptBuildFusion(out: string, anchor: PseudoFusionAnchor, opts: BuildOptions, say: (s: string) => void): Promise<void> {
  say("build: adapting the fusion weight to the corpus (pseudo-queries; --fusion-weight fixes it instead)");
  let a: Awaited<ReturnType<typeof adaptFusion>>;
  try {
    a = await adaptFusion(out, anchor, { apply: true, threads: opts.threads });
  } catch (e) {
    // The index is complete and verified with the model's fixed weight; only the adaptation is missing.
    throw new BuildError("invalid_build", `${out} is built, with the model's fusion weight; adapting it to the corpus failed (${(e as Error).message}): rerun \`i3 tune-fusion --pseudo --index ${out} --apply\``, { cause: e });
  }
  say(`build: ${statisticLine(out, a.statistic)}`);
  say(`build: fusion weight ${a.weight} ${anchor.normalization} (the model's ${anchor.weight} times ${a.factor.toFixed(4)}: this ratio over its anchor ${anchor.ratio}, at most 1)`);
}

/** The model's fusion record as build options: a weight recorded without a normalization was tuned for "minmax". */
function modelFusion(f: ModelSidecar["fusion"] = {}): Partial<LexicalSection["fusion"]> {
  const normalization = f.normalization ?? (f.weight !== undefined ? "minmax" : undefined);
  // Only the fields the record has: an undefined one would hide the build default when spread over it.
  return Object.fromEntries(Object.entries({ ...f, normalization }).filter(([, v]) => v !== undefined));
}

/** `file:line "id"` of the first few skipped documents. */
function describeSkipped(file: string, skipped: CorpusDoc[]): string {
  const named = skipped.slice(0, 5).map((d) => `${file}:${d.line} ${JSON.stringify(d.doc.id)}`).join(", ");
  return skipped.length > 5 ? `${named}, ...` : named;
}

/** Where a shard's float rows wait for the partition step (inside `<out>.partial`, gone after finalize). */
const floatsFile = (partial: string, firstPassage: number) => path.join(partial, "floats", `${firstPassage}.f32`);

async function writeFloats(partial: string, firstPassage: number, floats: Float32Array): Promise<void> {
  await mkdir(path.join(partial, "floats"), { recursive: true });
  const file = floatsFile(partial, firstPassage);
  await writeFile(`${file}.tmp`, new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
  await rename(`${file}.tmp`, file);
}

/**
 * The partition step: the shards' float rows and doc ordinals back from `<out>.partial`, pseudo-queries encoded with
 * the index's query model for the plan, then writePartitions.
 */
async function partitionBuild(b: {
  partial: string; store: ObjectStore; state: Checkpoint; plan: BuildPlan; tokenizer: Tokenizer; dim: number; documents: number;
  lexical?: LexicalSection; opts: BuildOptions; say: (m: string) => void;
}): Promise<PartitionedSection & { partitionDocs?: ObjectRef }> {
  const rows = b.state.shards.reduce((n, s) => n + s.count, 0);
  const floats = new Float32Array(rows * b.dim);
  const docOf = new Uint32Array(rows);
  for (const s of b.state.shards) {
    const bytes = await readFile(floatsFile(b.partial, s.firstPassage)).catch((e) => {
      throw new BuildError("resume_mismatch", `${b.partial}: the float rows of shard ${s.ref.path} are missing (${(e as Error).message}); pass --restart`);
    });
    floats.set(new Float32Array(bytes.buffer, bytes.byteOffset, s.count * b.dim), s.firstPassage * b.dim);
    docOf.set(decodeShard(await b.store.read(s.ref)).ordinals, s.firstPassage);
  }
  const sc = b.plan.model.sidecar;
  const texts = await pseudoQueryTexts(b.store, b.state.blocks, b.documents, PLAN_QUERIES, b.opts.partitioning?.seed ?? 1);
  const qenc = await createQueryModelEncoder({ modelPath: b.plan.model.queryPath, maxLen: sc.maxQueryTokens, intraOpThreads: b.opts.threads, log: b.say });
  let vectors: Float32Array;
  try {
    vectors = await encodeQueries(texts, b.tokenizer, qenc, sc.maxQueryTokens);
  } finally {
    await qenc.close();
  }
  const queries = { vectors, count: texts.length, source: PSEUDO_QUERY_SOURCE };
  // An int4 plan re-scores at least the dense candidates a hybrid search fuses (the index's default depth).
  const minRefine = b.lexical ? hybridWindow(searchOptions(b.lexical).depth) : 0;
  const section = await writePartitions(b.store, floats, docOf, b.dim, b.state.shards.map((s) => s.ref), queries, { threads: b.opts.threads, minRefine, ...b.opts.partitioning }, b.say);
  // A filtered search finds the partitions holding its matching documents through this (fields only).
  const partitionDocs = b.opts.fields?.length && section.members ? await writePartitionDocs(b.store, section.members, docOf, b.documents) : undefined;
  return { ...section, partitionDocs };
}

/** Pseudo-queries the partition plan is measured on. */
const PLAN_QUERIES = 200;
