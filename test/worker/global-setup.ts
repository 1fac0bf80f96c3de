/**
 * Node-side setup of the workerd tests: builds the fixture index (test/fixtures/scifact-mini, no passage splitting,
 * the default model) with the real `i3 build`, and writes what the offline side expects of it with
 * onnxruntime-node: the query vectors of the edge query model, the exact float32 top 10 of every query, and the
 * BM25 and hybrid top 10 computed in Node over the same index. Outputs go to test/.cache/ and reach the worker tests
 * through the REPO_FILES binding. They are rebuilt when anything that shapes them changes: see `cacheKey`.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { runBuildCommand } from "../../offline/build/command.ts";
import { createNodeEncoder } from "../../offline/encoder/node-encoder.ts";
import { readCorpus } from "../../offline/build/corpus.ts";
import { loadModel } from "../../offline/build/model.ts";
import { denseRun, loadTokenizer, PassageStore } from "../../offline/eval/dense.ts";
import { readQueries, type Query } from "../../offline/eval/beir.ts";
import { indexRun, openIndex } from "../../offline/eval/index-search.ts";
import { searchLexical } from "../../src/search/bm25.ts";
import { passageText } from "../../src/text/passages.ts";
import { fingerprint, importClosure } from "../helpers/fingerprint.ts";

const root = resolve(import.meta.dirname, "../..");
export const FIXTURE = "test/fixtures/scifact-mini";
export const MODEL = "models/use-lite";
/** A static query tier the worker tests add to the fixture index (same vocab and dims as MODEL; another vector space,
 * so its rankings are only compared with the offline ones, not judged). */
export const STATIC_MODEL = "models/i3-scifact/query.static.i3sq";
const CACHE = "test/.cache";
const INDEX = `${CACHE}/mini-index`;
const BUILD_ARGS = [
  "--corpus", `${FIXTURE}/corpus.jsonl`, "--model", MODEL, "--out", INDEX, "--no-split", "--device", "cpu",
  // Dense by default, so search.test.ts keeps testing the vector search; hybrid.test.ts names its modes.
  "--default-mode", "dense",
];
/** The same corpus as a partitioned index (manifest 2.0): 4 partitions with refine rows, for partitioned.test.ts. */
const IVF_INDEX = `${CACHE}/mini-ivf`;
const IVF_ARGS = [
  "--corpus", `${FIXTURE}/corpus.jsonl`, "--model", MODEL, "--out", IVF_INDEX, "--no-split", "--device", "cpu",
  "--partitions", "4", "--refine", "on",
];

/**
 * IVF_INDEX's objects under a manifest that scans int4 (search.scan; its plan would pick int4 only at larger scale),
 * for partitioned.test.ts: the worker's int4 scan against the offline one.
 */
const IVF_INT4_INDEX = `${CACHE}/mini-ivf-int4`;

/** A copy of the build `from` (its objects linked) whose manifest scans int4, at `to`. */
function int4Variant(from: string, to: string): void {
  rmSync(join(root, to), { recursive: true, force: true });
  mkdirSync(join(root, to), { recursive: true });
  for (const f of readdirSync(join(root, from))) {
    if (f === "objects") symlinkSync(join(root, from, "objects"), join(root, to, "objects"));
    else if (f !== "manifest.json") cpSync(join(root, from, f), join(root, to, f), { recursive: true });
  }
  const m = JSON.parse(readFileSync(join(root, from, "manifest.json"), "utf8"));
  m.id = `${m.id}-int4`;
  m.search.scan = "int4";
  writeFileSync(join(root, to, "manifest.json"), JSON.stringify(m, null, 2));
}

/**
 * The same corpus with metadata derived from each document's line (global-setup writes it; see `withMetadata`), as
 * a partitioned index with filterable fields, for filters.test.ts.
 */
const FIELDS_CORPUS = `${CACHE}/mini-fields-corpus.jsonl`;
const FIELDS_INDEX = `${CACHE}/mini-fields`;
const FIELDS_ARGS = [
  "--corpus", FIELDS_CORPUS, "--model", MODEL, "--out", FIELDS_INDEX, "--no-split", "--device", "cpu",
  "--partitions", "4", "--fields", "year:int,lang:keyword,tags:keyword[],published:date,rare:keyword",
];

/**
 * An incremental update of FIELDS_INDEX (`i3 build --base`), for updates.test.ts: UPDATE_UPSERTS replaces lines 1
 * and 2 (new text and metadata) and adds one document; UPDATE_DELETES deletes lines 3 and 4 and an id the index does
 * not have.
 */
const UPDATED_INDEX = `${CACHE}/mini-updated`;
const UPDATE_UPSERTS = `${CACHE}/mini-update-upserts.jsonl`;
const UPDATE_DELETES = `${CACHE}/mini-update-deletes.txt`;
const UPDATE_ARGS = ["--base", FIELDS_INDEX, "--upsert", UPDATE_UPSERTS, "--delete", UPDATE_DELETES, "--model", MODEL, "--out", UPDATED_INDEX, "--device", "cpu"];
/** A delete-only update of the flat fixture index (tombstones, no delta): lines 5 and 6 of the corpus deleted. */
const DELETED_INDEX = `${CACHE}/mini-deleted`;
const FLAT_DELETES = `${CACHE}/mini-flat-deletes.txt`;
const FLAT_DELETE_ARGS = ["--base", INDEX, "--delete", FLAT_DELETES, "--model", MODEL, "--out", DELETED_INDEX, "--device", "cpu"];

/** The upserted documents and deleted ids of UPDATE_ARGS, from the fields corpus' lines. */
export function updateInputs(lines: string[]): { upserts: string[]; deletes: string[] } {
  const doc = (i: number) => JSON.parse(withMetadata(lines[i], i));
  const texts = ["zymurgy: the brewing chemistry of fermentation by yeast strains", "volcanic basalt weathering releases magnesium into mountain rivers"];
  const replaced = [1, 2].map((i, j) => ({ ...doc(i), text: texts[j], metadata: { year: 2031, lang: "en", tags: ["updated"], rare: "upd" } }));
  const added = { _id: "new-doc-1", title: "Quokka ecology", text: "quokka populations on rottnest island and their diet", metadata: { year: 2032, lang: "en", tags: ["updated", "new"], rare: "upd" } };
  return { upserts: [...replaced, added].map((d) => JSON.stringify(d)), deletes: [doc(3)._id, doc(4)._id, "no-such-document"] };
}

/**
 * Metadata of the document on line i (from 0): year 2000 + i % 20 (none when i % 10 is 9), lang "de" when i % 3 is
 * 0 else "en", tags ["t<i % 5>"] plus "even" for even i, published 20<10 + i % 10>-06-01, rare "yes" on line 42 only.
 */
export function withMetadata(line: string, i: number): string {
  const doc = JSON.parse(line);
  doc.metadata = {
    ...(i % 10 === 9 ? {} : { year: 2000 + (i % 20) }),
    lang: i % 3 === 0 ? "de" : "en",
    tags: [`t${i % 5}`, ...(i % 2 === 0 ? ["even"] : [])],
    published: `20${10 + (i % 10)}-06-01`,
    ...(i === 42 ? { rare: "yes" } : {}),
  };
  return JSON.stringify(doc);
}

/**
 * Everything that shapes the cached index and expectations: the code this setup runs (its import closure: the
 * build, the encoder, the format, text and search core, the offline evaluation that computes the expectations, this
 * file with the build options), the model and the fixture, and the locked package versions (onnxruntime).
 */
function cacheKey(): string {
  const code = importClosure([import.meta.filename]);
  return fingerprint(root, [...code, MODEL, STATIC_MODEL, FIXTURE, "package-lock.json"], JSON.stringify([BUILD_ARGS, IVF_ARGS, FIELDS_ARGS, UPDATE_ARGS, FLAT_DELETE_ARGS, withMetadata.toString(), updateInputs.toString()]));
}

async function buildFixtureIndex(args: string[]): Promise<void> {
  const errors: string[] = [];
  const code = await runBuildCommand(args.map((a) => (a.includes("/") ? join(root, a) : a)), { err: (l) => errors.push(l), out: () => {} });
  if (code !== 0) throw new Error(`i3 build of a fixture index exited ${code}: ${errors.join("\n")}`);
}

/**
 * Offline top 10 of the partitioned index (the same src/search/ivf.ts), dense and hybrid, at its default probe and at
 * 1; and dense over its int4 variant.
 */
async function expectedPartitioned(queries: Query[]) {
  const top10: Record<string, Record<string, string[]>> = {};
  for (const [name, mode, probe, dir] of [
    ["dense", "dense", undefined, IVF_INDEX], ["hybrid", "hybrid", undefined, IVF_INDEX], ["dense-probe1", "dense", 1, IVF_INDEX],
    ["dense-int4", "dense", undefined, IVF_INT4_INDEX],
  ] as const) {
    const { run } = await indexRun(join(root, dir), queries, { k: 10, mode, probe, threads: 1 });
    top10[name] = Object.fromEntries(queries.map((q) => [q.id, (run.get(q.id) ?? []).map((h) => h.id)]));
  }
  return { top10 };
}

/** Query vectors of the model the index ships for the edge, and the exact float32 dense top 10 of every query. */
async function expectedDense(queries: Query[]) {
  const sidecar = JSON.parse(readFileSync(join(root, MODEL, "model.json"), "utf8"));
  const encode = await loadTokenizer(join(root, MODEL, sidecar.vocab));
  const edge = await createNodeEncoder({ modelPath: join(root, MODEL, sidecar.edgeQuery ?? sidecar.query), device: "cpu", maxLen: sidecar.maxQueryTokens, log: () => {} });
  const vectors: number[][] = [];
  for (const q of queries) vectors.push(Array.from(await edge.encode([encode(q.text)])));
  await edge.close();

  // Exact float32 search with the full-precision models: what the worker's int8 search must agree with.
  const store = new PassageStore(encode, sidecar.maxPassageTokens);
  for await (const { doc } of readCorpus(join(root, FIXTURE, "corpus.jsonl"))) store.add(doc.id, passageText(doc));
  const { run } = await denseRun(await loadModel(join(root, MODEL)), store, queries, encode, 10, { device: "cpu", batchSize: 32, log: () => {} });
  const exactTop10 = Object.fromEntries(queries.map((q) => [q.id, (run.get(q.id) ?? []).map((h) => h.id)]));
  return { queries, vectors, exactTop10 };
}

/**
 * The lexical side, computed in Node with the same src/ code on the built index: BM25 top 10 (ids and scores), and
 * hybrid top 10 with each fusion (query vectors from onnxruntime-node, so near-ties may differ from the worker).
 */
async function expectedLexical(queries: Query[]) {
  const dir = join(root, INDEX);
  const idx = await openIndex(dir);
  const lexicalTop10: Record<string, Array<{ id: string; score: number }>> = {};
  for (const q of queries) {
    lexicalTop10[q.id] = (await searchLexical(idx.lexical!, q.text, 10)).hits.map((h) => ({ id: idx.ids[h.ordinal], score: h.score }));
  }
  const { weight, normalization } = idx.manifest.lexical!.fusion;
  const fusions = [
    ["rrf", { mode: "rrf", k: 60 }], ["tmm", { mode: "weighted", weight, normalization: "tmm" }], ["minmax", { mode: "weighted", weight, normalization: "minmax" }],
  ] as const;
  const hybridTop10: Record<string, Record<string, string[]>> = {};
  for (const [name, fusion] of fusions) {
    const { run } = await indexRun(dir, queries, { k: 10, mode: "hybrid", fusion, threads: 1 });
    hybridTop10[name] = Object.fromEntries(queries.map((q) => [q.id, (run.get(q.id) ?? []).map((h) => h.id)]));
  }
  return { lexicalTop10, hybridTop10, weight, normalization };
}

/** Offline top 10 of the updated index (base + delta, the same src/search), in every mode at its default probe. */
async function expectedUpdated(queries: Query[]) {
  const top10: Record<string, Record<string, string[]>> = {};
  for (const mode of ["dense", "lexical", "hybrid"] as const) {
    const { run } = await indexRun(join(root, UPDATED_INDEX), queries, { k: 10, mode, threads: 1 });
    top10[mode] = Object.fromEntries(queries.map((q) => [q.id, (run.get(q.id) ?? []).map((h) => h.id)]));
  }
  return { top10 };
}

/** Dense top 10 of the fixture index with STATIC_MODEL as its static tier (i3 eval's --encoder static --static-model). */
async function expectedStatic(queries: Array<{ id: string; text: string }>) {
  const { run } = await indexRun(join(root, INDEX), queries, { k: 10, mode: "dense", encoder: "static", staticModel: join(root, STATIC_MODEL), threads: 1 });
  return { top10: Object.fromEntries(queries.map((q) => [q.id, (run.get(q.id) ?? []).map((h) => h.id)])) };
}

export default async function setup(): Promise<void> {
  const cache = join(root, CACHE);
  const stamp = join(cache, "mini.stamp");
  const key = cacheKey();
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === key) return;
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });

  await buildFixtureIndex(BUILD_ARGS);
  await buildFixtureIndex(IVF_ARGS);
  int4Variant(IVF_INDEX, IVF_INT4_INDEX);
  const lines = readFileSync(join(root, FIXTURE, "corpus.jsonl"), "utf8").split("\n").filter((l) => l.trim());
  writeFileSync(join(root, FIELDS_CORPUS), lines.map(withMetadata).join("\n") + "\n");
  await buildFixtureIndex(FIELDS_ARGS);
  const update = updateInputs(lines);
  writeFileSync(join(root, UPDATE_UPSERTS), update.upserts.join("\n") + "\n");
  writeFileSync(join(root, UPDATE_DELETES), update.deletes.join("\n") + "\n");
  await buildFixtureIndex(UPDATE_ARGS);
  writeFileSync(join(root, FLAT_DELETES), [5, 6].map((i) => JSON.parse(lines[i])._id).join("\n") + "\n");
  await buildFixtureIndex(FLAT_DELETE_ARGS);
  const queries = await readQueries(join(root, FIXTURE, "queries.jsonl"));
  if (queries.length === 0) throw new Error(`${FIXTURE}/queries.jsonl has no queries`);
  writeFileSync(join(cache, "mini-expected.json"), JSON.stringify(await expectedDense(queries)));
  writeFileSync(join(cache, "mini-lexical.json"), JSON.stringify(await expectedLexical(queries)));
  writeFileSync(join(cache, "mini-ivf-expected.json"), JSON.stringify(await expectedPartitioned(queries)));
  writeFileSync(join(cache, "mini-static.json"), JSON.stringify(await expectedStatic(queries)));
  writeFileSync(join(cache, "mini-updated-expected.json"), JSON.stringify(await expectedUpdated(queries)));
  writeFileSync(stamp, key);
}
