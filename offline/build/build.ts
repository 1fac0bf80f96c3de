// `i3 build`: corpus in, index directory out.
//
// Pipeline: stream corpus lines -> validate -> tokenize title + " " + text once -> overlapping windows (passages)
// -> bounded buffer sorted by length -> encoder batches -> int8 + sign codes -> shards of `shardSize` passages;
// documents -> doc blocks of `docsPerBlock`. Everything is written into `<out>.partial/`, with a checkpoint after
// every finished object; the directory is verified and renamed to `<out>` only when complete.
//
// Encode buffers end at every passage ordinal that is a multiple of `sortBuffer` or of `shardSize`, so a resumed
// build (which restarts at a shard boundary) forms exactly the same batches as one that never stopped.
import { UsageError } from "../command.ts";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { DOCS_PER_BLOCK, type DocBlockRef, type LexicalSection, type ObjectRef } from "../../src/format/index.ts";
import { createTokenizer } from "../../src/text/tokenizer/index.ts";
import { createNodeEncoder, type Device, type NodeEncoder } from "../encoder/node-encoder.ts";
import { fingerprintDiff, readCheckpoint, writeCheckpoint, type Checkpoint, type Fingerprint, type ResumePoint } from "./checkpoint.ts";
import { readCorpus, resolveCorpusPath, validateCorpus, type CorpusDoc } from "./corpus.ts";
import { BuildError } from "./errors.ts";
import { assembleManifest, defaultIndexId, exists, finalizeBuild, type BuildInfo } from "./finalize.ts";
import { writeLexical, type LexicalOptions } from "./bm25.ts";
import { loadModel, type ModelSidecar } from "./model.ts";
import { passageText, splitPassages } from "../../src/text/passages.ts";
import { createProgress, formatDuration, type ProgressStream } from "./progress.ts";
import { sliceRange, type Slice } from "./slice.ts";
import { writeObject } from "./store.ts";
import { createDocBlockWriter, createShardWriter, quantizeRows, type ShardDone } from "./writers.ts";

export interface BuildOptions {
  /** corpus.jsonl, or a BEIR directory holding one. */
  corpus: string;
  /** Model directory with model.json. */
  model: string;
  out: string;
  device?: Device;
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
  /** Skip (and count) documents whose title and text are both empty instead of failing. */
  skipEmpty?: boolean;
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

interface Pending {
  ids: number[];
  doc: number;
}

interface DocStart {
  doc: number;
  line: number;
  passage: number;
  tokensBefore: number;
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

  const corpusFile = await resolveCorpusPath(opts.corpus);
  const model = await loadModel(opts.model);
  const sc = model.sidecar;
  const window = opts.window ?? sc.maxPassageTokens;
  if (!Number.isInteger(window) || window < 1 || window > sc.maxPassageTokens) {
    throw new UsageError(`--window must be in 1..${sc.maxPassageTokens} (the model's maxPassageTokens), got ${window}`);
  }
  const stride = opts.stride ?? Math.max(1, Math.round((window * 3) / 4));
  if (!Number.isInteger(stride) || stride < 1 || stride > window) throw new UsageError(`--stride must be in 1..${window} (the window), got ${stride}`);
  const split = opts.split ?? true;
  const batch = opts.batch ?? 32;
  const shardSize = opts.shardSize ?? 8192;
  const docsPerBlock = opts.docsPerBlock ?? DOCS_PER_BLOCK;
  const sortBuffer = opts.sortBuffer ?? batch * 16;
  for (const [k, v] of Object.entries({ batch, shardSize, docsPerBlock, sortBuffer })) {
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`${k} must be a positive integer, got ${v}`);
  }
  const cstat = await stat(corpusFile);
  const fingerprint: Fingerprint = {
    corpus: { path: path.resolve(corpusFile), bytes: cstat.size, mtimeMs: Math.floor(cstat.mtimeMs) },
    model: { name: sc.name, ...model.hashes },
    window, stride, split, shardSize, batch, sortBuffer, docsPerBlock,
    limit: opts.limit ?? null,
    slice: opts.slice ? `${opts.slice.k}/${opts.slice.n}` : null,
    ...(opts.skipEmpty ? { skipEmpty: true } : {}),
  };

  // Validation pass: every line is checked (JSON, fields, UTF-8, duplicate ids) before anything is encoded or
  // written, and the documents are counted (slice ranges, ETA).
  say(`build: checking ${corpusFile}`);
  const skipped: CorpusDoc[] = [];
  const reading = { skipEmpty: opts.skipEmpty, onSkip: (d: CorpusDoc) => skipped.push(d) };
  const corpusDocs = Math.min(await validateCorpus(corpusFile, opts.limit, reading), opts.limit ?? Infinity);
  if (opts.skipEmpty) say(`build: skipping ${skipped.length} empty document(s)${skipped.length ? `: ${describeSkipped(corpusFile, skipped)}` : ""}`);
  const { first: lo, end: hi } = sliceRange(corpusDocs, opts.slice);

  // Resume or start afresh.
  let checkpoint: Checkpoint | undefined;
  if (await exists(partial)) {
    const old = opts.restart ? undefined : readCheckpoint(partial);
    if (old && (old.shards.length || old.blocks.length)) {
      const diff = fingerprintDiff(old.fingerprint, fingerprint);
      if (diff.length) {
        throw new BuildError(
          "resume_mismatch",
          `${partial} holds a build started with other arguments:\n  ${diff.join("\n  ")}\n` +
            `rerun with the same arguments to resume it, or pass --restart to discard it`,
        );
      }
      checkpoint = old;
    } else await rm(partial, { recursive: true, force: true });
  }
  await mkdir(path.join(partial, "objects"), { recursive: true });
  const state: Checkpoint = checkpoint ?? {
    fingerprint,
    shards: [],
    blocks: [],
    resume: { doc: 0, line: null, passage: 0, tokensBefore: 0 },
  };
  const passagesDone = state.shards.reduce((n, s) => n + s.count, 0);
  const docsInBlocks = state.blocks.reduce((n, b) => n + b.count, 0);
  const resume = state.resume;
  if (checkpoint) say(`build: resuming ${partial}: ${state.shards.length} shards (${passagesDone} passages) and ${state.blocks.length} doc blocks done`);
  writeCheckpoint(partial, state);


  const query = await writeObject(partial, "model", new Uint8Array(await readFile(model.queryPath)));
  const vocab = await writeObject(partial, "vocab", model.vocabBytes);
  const tokenizer = createTokenizer(model.vocab);

  const encoder: NodeEncoder = await createNodeEncoder({ modelPath: model.passagePath, device: opts.device ?? "auto", maxLen: window, intraOpThreads: opts.threads, log: say });
  const dim = encoder.dim;
  try {
    if (dim !== sc.dim) throw new BuildError("invalid_model", `model ${opts.model}: ${sc.passage} outputs dim ${dim}, model.json says ${sc.dim}`);

    const crashAfter = Number(process.env.I3_BUILD_CRASH_AFTER_SHARDS ?? 0);
    let shardsThisRun = 0;
    const docStarts: DocStart[] = [];
    let docsRead = resume.doc;
    let passagesRead = resume.passage;
    let tokens = resume.tokensBefore;

    const checkpointNow = () => {
      const p = state.shards.reduce((n, s) => n + s.count, 0);
      const b = state.blocks.reduce((n, x) => n + x.count, 0);
      // Restart at the document holding passage p (the last start <= p; the next unread one when all read passages
      // are in shards), or earlier at the first document of the unfinished doc block.
      let r: ResumePoint = { doc: docsRead, line: null, passage: passagesRead, tokensBefore: tokens };
      if (p < passagesRead) {
        for (let i = docStarts.length - 1; i >= 0; i--) {
          if (docStarts[i].passage <= p) {
            r = { ...docStarts[i] };
            break;
          }
        }
      }
      if (b < r.doc) {
        const d = docStarts.find((x) => x.doc === b);
        if (!d) throw new Error(`internal: no start recorded for doc ${b}`);
        r = { ...d };
      }
      state.resume = r;
      while (docStarts.length && docStarts[0].doc < r.doc) docStarts.shift();
      writeCheckpoint(partial, state);
    };

    const shardWriter = createShardWriter({
      dir: partial, dim, shardSize, firstPassage: passagesDone,
      onShard: (s: ShardDone) => {
        state.shards.push(s);
        checkpointNow();
        if (crashAfter > 0 && ++shardsThisRun >= crashAfter) throw new Error(`simulated crash after ${shardsThisRun} shard(s) (I3_BUILD_CRASH_AFTER_SHARDS)`);
      },
    });
    const docWriter = createDocBlockWriter({
      dir: partial, docsPerBlock, firstDoc: docsInBlocks,
      onBlock: (ref) => {
        state.blocks.push(ref);
        checkpointNow();
      },
    });

    const encodeBuffer = async (buf: Pending[]): Promise<void> => {
      const order = buf.map((_, i) => i).sort((a, b) => buf[a].ids.length - buf[b].ids.length);
      const floats = new Float32Array(buf.length * dim);
      for (let i = 0; i < order.length; i += batch) {
        const idx = order.slice(i, i + batch);
        const v = await encoder.encode(idx.map((j) => buf[j].ids));
        idx.forEach((j, r) => floats.set(v.subarray(r * dim, (r + 1) * dim), j * dim));
      }
      for (let i = 0; i < floats.length; i++) {
        if (!Number.isFinite(floats[i])) throw new BuildError("invalid_model", `model ${opts.model}: non-finite embedding for a passage of doc ${buf[Math.floor(i / dim)].doc}`);
      }
      await shardWriter.add(quantizeRows(floats, dim, Uint32Array.from(buf, (p) => p.doc)));
    };

    const progress = createProgress({ stream: stderr, totalDocs: hi - lo, startPassages: passagesDone, everyMs: opts.progressEveryMs });
    let pending: Promise<void> = Promise.resolve();
    let buffer: Pending[] = [];
    const flush = async () => {
      const buf = buffer;
      buffer = [];
      await pending;
      pending = encodeBuffer(buf);
      pending.catch(() => {}); // awaited later; marked handled so a failure is not an unhandled rejection
    };

    let global = -1;
    for await (const { line, doc } of readCorpus(corpusFile, { checkIds: false, skipEmpty: opts.skipEmpty })) {
      global++;
      if (global >= hi) break;
      if (global < lo) continue;
      const d = global - lo;
      if (d < resume.doc) continue;
      if (d === resume.doc && resume.line !== null && resume.line !== line) {
        throw new BuildError("resume_mismatch", `${corpusFile}: doc ${d} is now on line ${line}, the checkpoint says ${resume.line} (corpus changed?); pass --restart`);
      }
      const ids = tokenizer.encode(passageText(doc));
      if (ids.length === 0) throw new BuildError("invalid_corpus", `${corpusFile}:${line}: document ${JSON.stringify(doc.id)} has no tokens`);
      docStarts.push({ doc: d, line, passage: passagesRead, tokensBefore: tokens });
      tokens += ids.length;
      docsRead = d + 1;
      for (const p of splitPassages(ids, window, stride, split)) {
        const ordinal = passagesRead++;
        if (ordinal < passagesDone) continue;
        buffer.push({ ids: p, doc: d });
        if (passagesRead % sortBuffer === 0 || passagesRead % shardSize === 0) await flush();
      }
      if (d >= docsInBlocks) await docWriter.add(doc);
      progress.update(shardWriter.passages, passagesRead, docsRead);
    }
    if (buffer.length) await flush();
    await pending;
    await shardWriter.finish();
    await docWriter.finish();
    progress.end();

    const documents = docsRead;
    if (documents !== hi - lo) throw new BuildError("invalid_corpus", `${corpusFile}: expected ${hi - lo} documents, read ${documents}`);
    // Fusion defaults: the model's tuned weight (model.json "fusion"), overridden by --fusion/--fusion-weight/
    // --fusion-normalization.
    const lexicalOptions = { ...opts.lexicalOptions, fusion: { ...modelFusion(model.sidecar.fusion), ...opts.lexicalOptions?.fusion } };
    const lexical = opts.lexical === false ? undefined : await writeLexical(partial, state.blocks as DocBlockRef[], lexicalOptions);
    const manifest = assembleManifest({
      id: opts.id ?? defaultIndexId(out),
      documents, passages: passagesRead, tokens, dim,
      normalized: sc.normalized, modelName: sc.name, maxQueryTokens: sc.maxQueryTokens,
      query, vocab, window, stride,
      shards: state.shards.map((s) => s.ref),
      blocks: state.blocks as DocBlockRef[],
      lexical,
    });
    const info: BuildInfo = {
      fingerprint, slice: opts.slice ?? null, firstDoc: lo, corpusDocuments: corpusDocs, tokens,
      ...(opts.skipEmpty ? { skippedEmpty: skipped.length } : {}),
    };
    const indexBytes = await finalizeBuild(partial, out, manifest, info, !!opts.force);

    const seconds = (performance.now() - t0) / 1000;
    const shardBytes = state.shards.reduce((n, s) => n + s.ref.bytes, 0);
    const lexicalBytes = lexical ? lexical.buckets.reduce((n, b) => n + b.bytes, lexical.norms.bytes) : 0;
    const encoded = passagesRead - passagesDone;
    const summary: BuildSummary = {
      out, documents, passages: passagesRead,
      shardBytesPerPassage: passagesRead ? shardBytes / passagesRead : 0,
      indexBytesPerPassage: passagesRead ? indexBytes / passagesRead : 0,
      indexBytes, lexicalBytes, seconds,
      passagesPerSecond: encoded / seconds,
      provider: encoder.provider,
      resumed: !!checkpoint,
    };
    say(
      `build: ${out}: ${documents} documents, ${passagesRead} passages (window ${window}, stride ${split ? stride : "-, no split"}), ` +
        `${summary.shardBytesPerPassage.toFixed(1)} vector bytes/passage, ${summary.indexBytesPerPassage.toFixed(1)} index bytes/passage ` +
        `(${(indexBytes / 1e6).toFixed(2)} MB` +
        (lexical ? `; lexical ${(lexicalBytes / 1e6).toFixed(2)} MB: ${lexical.terms} terms in ${lexical.buckets.length} buckets, ${(lexicalBytes / passagesRead).toFixed(1)} bytes/passage` : "; no lexical") +
        `), ${formatDuration(seconds)} (${seconds.toFixed(1)} s), ` +
        `${summary.passagesPerSecond.toFixed(1)} passages/s${checkpoint ? ` (${encoded} encoded this run)` : ""}, provider ${encoder.provider}`,
    );
    return summary;
  } finally {
    await encoder.close();
  }
}

export type { ObjectRef };

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
