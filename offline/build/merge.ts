// `i3 merge`: joins build directories (normally the n slices of `--shard k/n`) into one index.
//
// Inputs must share model (passage, query and vocab sha256) and every build parameter (window, stride, split,
// shard size, batch, doc block size). Slices (of one corpus file) are ordered by k, and all of 1..n must be there
// with contiguous document ranges; whole builds (e.g. of several corpora) are joined in argument order, and
// document ids must be unique across inputs. Every object read is
// checked against its sha256. Doc ordinals are renumbered (each input's local ordinals + the documents before it),
// and vectors and documents are re-chunked through the same writers as a build: shards and doc blocks of a merge
// of slices are byte for byte those of a single build (objects that come out unchanged, e.g. all of slice 1's,
// keep their sha256; the others must be rewritten because their headers hold global ordinals).
import { UsageError } from "../command.ts";
import { readFile, mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { decodeDocBlock, decodeShard, type DocBlockRef, type FieldsSection, type Manifest, type ObjectRef } from "../../src/format/index.ts";
import { fingerprintDiff } from "./checkpoint.ts";
import { BuildError } from "./errors.ts";
import { assembleManifest, defaultIndexId, exists, finalizeBuild } from "./finalize.ts";
import { BUILD_INFO_FILE, type BuildInfo } from "./build-info.ts";
import type { ProgressStream } from "./progress.ts";
import { writeLexical } from "./bm25.ts";
import { writeFieldColumns } from "./fields.ts";
import { writeIdIndex } from "./id-index.ts";
import { openBuildDir, type BuildDir } from "./build-dir.ts";
import { createObjectStore } from "./object-store.ts";
import { createDocBlockWriter, createShardWriter } from "./writers.ts";

export interface MergeOptions {
  inputs: string[];
  out: string;
  id?: string;
  force?: boolean;
  stderr?: ProgressStream;
}

export interface MergeSummary {
  out: string;
  inputs: number;
  documents: number;
  passages: number;
  indexBytes: number;
  seconds: number;
}

interface Input {
  dir: string;
  build: BuildDir;
  manifest: Manifest;
  info: BuildInfo;
}

async function readInput(dir: string): Promise<Input> {
  const build = await openBuildDir(dir);
  let info: BuildInfo;
  try {
    info = JSON.parse(await readFile(path.join(dir, BUILD_INFO_FILE), "utf8"));
  } catch {
    throw new BuildError("merge_mismatch", `${dir}: no ${BUILD_INFO_FILE} (only directories made by \`i3 build\` can be merged)`);
  }
  if (build.manifest.delta || build.manifest.tombstones) {
    throw new BuildError("merge_mismatch", `${dir} is an incrementally updated version (a delta or tombstones): \`i3 compact\` it first`);
  }
  return { dir, build, manifest: build.manifest, info };
}

function checkCompatible(inputs: Input[]): Input[] {
  const [a] = inputs;
  const bad = (msg: string) => new BuildError("merge_mismatch", `cannot merge: ${msg}`);
  for (const b of inputs.slice(1)) {
    // Slices must come from one corpus; whole builds may be of different corpora (ids must still be unique).
    const comparable = (x: Input) => ({ ...x.info.fingerprint, slice: null, ...(x.info.slice ? {} : { corpus: null, limit: null }) });
    const diff = fingerprintDiff(comparable(a) as never, comparable(b) as never);
    if (diff.length) throw bad(`${b.dir} was built differently from ${a.dir}:\n  ${diff.join("\n  ")}`);
    const ma = a.manifest;
    const mb = b.manifest;
    const same = (what: string, x: unknown, y: unknown) => {
      if (JSON.stringify(x) !== JSON.stringify(y)) throw bad(`${what} differs: ${a.dir} ${JSON.stringify(x)}, ${b.dir} ${JSON.stringify(y)}`);
    };
    same("vectors", ma.vectors, mb.vectors);
    same("model", { ...ma.model }, { ...mb.model });
    same("passages", ma.passages, mb.passages);
  }
  const sliced = inputs.filter((x) => x.info.slice);
  if (sliced.length === 0) return inputs;
  if (sliced.length !== inputs.length) throw bad("some inputs are --shard slices and some are not");
  const n = a.info.slice!.n;
  const byK = new Map<number, Input>();
  for (const x of inputs) {
    if (x.info.slice!.n !== n) throw bad(`${x.dir} is slice ${x.info.slice!.k}/${x.info.slice!.n}, ${a.dir} is of ${n}`);
    if (byK.has(x.info.slice!.k)) throw bad(`slice ${x.info.slice!.k}/${n} given twice (${byK.get(x.info.slice!.k)!.dir}, ${x.dir})`);
    byK.set(x.info.slice!.k, x);
  }
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !byK.has(k));
  if (missing.length) throw bad(`missing slice(s) ${missing.map((k) => `${k}/${n}`).join(", ")}`);
  const ordered = Array.from({ length: n }, (_, i) => byK.get(i + 1)!);
  let next = 0;
  for (const x of ordered) {
    if (x.info.firstDoc !== next) throw bad(`${x.dir} starts at document ${x.info.firstDoc}, expected ${next}`);
    next += x.manifest.corpus.documents;
  }
  if (next !== a.info.corpusDocuments) throw bad(`slices hold ${next} documents, the corpus ${a.info.corpusDocuments}`);
  return ordered;
}

/**
 * Merges build directories into `out` (through `<out>.partial`, verified, then renamed).
 *
 * @example
 * await mergeIndexes({ inputs: ["out/s1", "out/s2"], out: "out/scifact" });
 */
export async function mergeIndexes(opts: MergeOptions): Promise<MergeSummary> {
  const t0 = performance.now();
  const stderr = opts.stderr ?? process.stderr;
  if (opts.inputs.length === 0) throw new UsageError("merge: no input directories");
  const out = opts.out.replace(/\/+$/, "");
  if (!opts.force && (await exists(out))) throw new BuildError("output_exists", `${out} already exists (pass --force to replace it)`);
  const inputs = checkCompatible(await Promise.all(opts.inputs.map(readInput)));
  const first = inputs[0];
  const fp = first.info.fingerprint;
  const partial = `${out}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(path.join(partial, "objects"), { recursive: true });
  const store = createObjectStore(partial);

  const m0 = first.manifest;
  const query = await store.copy(m0.model.query, await first.build.readObject(m0.model.query));
  const vocab = await store.copy(m0.model.vocab, await first.build.readObject(m0.model.vocab));
  const staticQuery = m0.model.static && (await store.copy(m0.model.static, await first.build.readObject(m0.model.static)));
  const shards: ObjectRef[] = [];
  const blocks: DocBlockRef[] = [];
  const shardWriter = createShardWriter({ store, dim: m0.vectors.dim, shardSize: fp.shardSize, onShard: (s) => void shards.push(s.ref) });
  const docWriter = createDocBlockWriter({ store, docsPerBlock: fp.docsPerBlock, onBlock: (b) => void blocks.push(b) });

  const ids = new Set<string>();
  let docOffset = 0;
  let tokens = 0;
  for (const x of inputs) {
    const m = x.manifest;
    let expectPassage = 0;
    for (const ref of m.partitions.flatMap((p) => p.shards)) {
      const shard = decodeShard(await x.build.readObject(ref));
      if (shard.header.firstPassage !== expectPassage) {
        throw new BuildError("invalid_build", `${x.dir}: shard ${ref.path} starts at passage ${shard.header.firstPassage}, expected ${expectPassage}`);
      }
      expectPassage += shard.header.count;
      const ordinals = new Uint32Array(shard.ordinals.length);
      for (let i = 0; i < ordinals.length; i++) ordinals[i] = shard.ordinals[i] + docOffset;
      await shardWriter.add({ count: shard.header.count, vectors: shard.vectors, scales: shard.scales, codes: shard.codes, ordinals });
    }
    for (const ref of m.docs.blocks) {
      for (const doc of decodeDocBlock(await x.build.readObject(ref))) {
        if (ids.has(doc.id)) throw new BuildError("merge_mismatch", `cannot merge: document id ${JSON.stringify(doc.id)} is in more than one input (last: ${x.dir})`);
        ids.add(doc.id);
        await docWriter.add(doc);
      }
    }
    docOffset += m.corpus.documents;
    tokens += x.info.tokens;
  }
  await shardWriter.finish();
  await docWriter.finish();

  const passages = shardWriter.passages;
  // The lexical section is rebuilt over the merged documents when every input has one (same settings as the first).
  const l0 = m0.lexical;
  const lexical = l0 && inputs.every((x) => x.manifest.lexical)
    ? await writeLexical(store, blocks, { k1: l0.bm25.k1, b: l0.bm25.b, fusion: l0.fusion, defaultMode: l0.defaultMode })
    : undefined;
  const fields = await mergeFields(inputs, store, blocks);
  const manifest = assembleManifest({
    id: opts.id ?? defaultIndexId(out),
    documents: docOffset, passages, tokens,
    dim: m0.vectors.dim, normalized: m0.vectors.normalized, modelName: m0.model.name, maxQueryTokens: m0.model.maxQueryTokens,
    query, vocab, staticQuery, defaultEncoder: m0.model.defaultEncoder, queryGraph: m0.model.graph, window: m0.passages.window, stride: m0.passages.stride, split: m0.passages.split !== false,
    partitions: [{ id: 0, centroid: null, shards }], blocks, ids: await writeIdIndex(store, blocks), lexical, fields,
  });
  const info: BuildInfo = { fingerprint: { ...fp, slice: null }, slice: null, firstDoc: 0, corpusDocuments: docOffset, tokens };
  const indexBytes = await finalizeBuild(store, out, manifest, info, !!opts.force);
  const seconds = (performance.now() - t0) / 1000;
  stderr.write(`merge: ${out}: ${inputs.length} inputs, ${docOffset} documents, ${passages} passages, ${(indexBytes / 1e6).toFixed(2)} MB, ${seconds.toFixed(1)} s\n`);
  return { out, inputs: inputs.length, documents: docOffset, passages, indexBytes, seconds };
}

/** The merged index's filterable fields: rebuilt over the merged documents when every input declares the same. */
async function mergeFields(inputs: Input[], store: ReturnType<typeof createObjectStore>, blocks: DocBlockRef[]): Promise<FieldsSection | undefined> {
  const schemas = inputs.map((x) => JSON.stringify(x.manifest.fields?.schema ?? null));
  if (schemas.some((s) => s !== schemas[0])) {
    throw new BuildError("merge_mismatch", `cannot merge: filterable fields differ: ${inputs.map((x, i) => `${x.dir} ${schemas[i]}`).join(", ")}`);
  }
  const schema = inputs[0].manifest.fields?.schema;
  return schema && { schema, columns: await writeFieldColumns(store, blocks, schema) };
}
