/**
 * Node-side setup of the workerd tests: builds the fixture index (test/fixtures/scifact-mini, no passage splitting,
 * the default model) with the real `i3 build`, and writes what the offline side expects of it with
 * onnxruntime-node: the query vectors of the edge query model, and the exact float32 top 10 of every query.
 * Outputs go to test/.cache/ (rebuilt when the model or corpus changes) and reach the worker tests through the
 * REPO_FILES binding.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createNodeEncoder } from "../../offline/encoder/node-encoder.ts";
import { readCorpus } from "../../offline/build/corpus.ts";
import { loadModel } from "../../offline/build/model.ts";
import { denseRun, loadTokenizer, PassageStore } from "../../offline/eval/dense.ts";
import { readQueries } from "../../offline/eval/beir.ts";
import { indexRun, openIndex } from "../../offline/eval/index-search.ts";
import { searchLexical } from "../../src/search/bm25.ts";
import { passageText } from "../../src/text/passages.ts";

const root = resolve(import.meta.dirname, "../..");
export const FIXTURE = "test/fixtures/scifact-mini";
export const MODEL = "models/use-lite";
/** Code that changes the lexical part of the fixture index or its expectations. */
const LEXICAL_CODE = ["src/text/analyzer.ts", "src/format/bm25.ts", "offline/build/bm25.ts", "src/search/bm25.ts", "src/search/fusion.ts", "src/search/modes.ts", "src/search/dense.ts"];

function fingerprint(): string {
  const h = createHash("sha256");
  for (const f of [`${FIXTURE}/corpus.jsonl`, `${FIXTURE}/queries.jsonl`, `${MODEL}/model.json`, ...LEXICAL_CODE]) h.update(readFileSync(join(root, f)));
  return h.digest("hex").slice(0, 12);
}

export default async function setup(): Promise<void> {
  const cache = join(root, "test/.cache");
  const stamp = join(cache, "mini.stamp");
  const fp = fingerprint();
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === fp) return;
  rmSync(cache, { recursive: true, force: true });
  mkdirSync(cache, { recursive: true });

  execFileSync(join(root, "node_modules/.bin/tsx"), [
    "offline/cli.ts", "build", "--corpus", `${FIXTURE}/corpus.jsonl`, "--model", MODEL, "--out", "test/.cache/mini-index", "--no-split",
    // Dense by default, so search.test.ts keeps testing the vector search; hybrid.test.ts names its modes.
    "--default-mode", "dense",
  ], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });

  const sidecar = JSON.parse(readFileSync(join(root, MODEL, "model.json"), "utf8"));
  const encode = await loadTokenizer(join(root, MODEL, sidecar.vocab));
  const queries = await readQueries(join(root, FIXTURE, "queries.jsonl"));

  // Query vectors of the model the index ships for the edge, computed by onnxruntime-node.
  const edge = await createNodeEncoder({ modelPath: join(root, MODEL, sidecar.edgeQuery ?? sidecar.query), device: "cpu", maxLen: sidecar.maxQueryTokens, log: () => {} });
  const vectors: number[][] = [];
  for (const q of queries) vectors.push(Array.from(await edge.encode([encode(q.text)])));
  await edge.close();

  // Exact float32 search with the full-precision models: what the worker's int8 search must agree with.
  const store = new PassageStore(encode, sidecar.maxPassageTokens);
  for await (const { doc } of readCorpus(join(root, FIXTURE, "corpus.jsonl"))) store.add(doc.id, passageText(doc));
  const { run } = await denseRun(await loadModel(join(root, MODEL)), store, queries, encode, 10, { device: "cpu", batchSize: 32, log: () => {} });
  const exactTop10 = Object.fromEntries(queries.map((q) => [q.id, (run.get(q.id) ?? []).map((h) => h.id)]));

  writeFileSync(join(cache, "mini-expected.json"), JSON.stringify({ queries, vectors, exactTop10 }));

  // The lexical side, computed in Node with the same src/ code on the same built index: BM25 top 10 (ids and
  // scores), and hybrid top 10 with each fusion (query vectors from onnxruntime-node, so near-ties may differ).
  const idx = await openIndex(join(root, "test/.cache/mini-index"));
  const lexicalTop10: Record<string, Array<{ id: string; score: number }>> = {};
  for (const q of queries) {
    lexicalTop10[q.id] = (await searchLexical(idx.lexical!, q.text, 10)).hits.map((h) => ({ id: idx.ids[h.ordinal], score: h.score }));
  }
  const hybridTop10: Record<string, Record<string, string[]>> = {};
  const { weight, normalization } = idx.manifest.lexical!.fusion;
  const fusions = [
    ["rrf", { mode: "rrf", k: 60 }], ["tmm", { mode: "weighted", weight, normalization: "tmm" }], ["minmax", { mode: "weighted", weight, normalization: "minmax" }],
  ] as const;
  for (const [name, fusion] of fusions) {
    const { run } = await indexRun(join(root, "test/.cache/mini-index"), queries, { k: 10, mode: "hybrid", fusion, threads: 1 });
    hybridTop10[name] = Object.fromEntries(queries.map((q) => [q.id, (run.get(q.id) ?? []).map((h) => h.id)]));
  }
  writeFileSync(join(cache, "mini-lexical.json"), JSON.stringify({ lexicalTop10, hybridTop10, weight, normalization }));
  writeFileSync(stamp, fp);
}
