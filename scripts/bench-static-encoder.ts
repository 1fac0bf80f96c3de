/**
 * Query encoding alone, in process: the static tier (src/search/static-encoder.ts: tokenize, look up, weighted sum,
 * normalise, exactly the worker's call) against the model's edge query tower in onnxruntime-node and in
 * onnxruntime-web's wasm backend (the Worker's; same tokenizer and inputs),
 * one query at a time. Prints one JSON line: per-query milliseconds (mean, p50, p99) of each (the static tier also on
 * its first round, before the tokenizer's per-word cache is warm), and the static tier's tokenize-only share.
 *
 *   npx tsx scripts/bench-static-encoder.ts --model models/i3-scifact --queries <queries.jsonl> [--n 1000] [--rounds 5]
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createNodeEncoder } from "../offline/encoder/node-encoder.ts";
import { decodeStaticQuery } from "../src/format/index.ts";
import { createStaticEncoder } from "../src/search/static-encoder.ts";
import { toInputs } from "../src/text/tensors.ts";
import { createTokenizer } from "../src/text/tokenizer/index.ts";

const { values: o } = parseArgs({ options: { model: { type: "string" }, queries: { type: "string" }, n: { type: "string", default: "1000" }, rounds: { type: "string", default: "5" }, "model-queries": { type: "string", default: "200" } } });
if (!o.model || !o.queries) {
  console.error("usage: npx tsx scripts/bench-static-encoder.ts --model <model dir> --queries <queries.jsonl> [--n 1000] [--rounds 5] [--model-queries 200]");
  process.exit(2);
}
const sidecar = JSON.parse(readFileSync(path.join(o.model, "model.json"), "utf8"));
const texts = readFileSync(o.queries, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).text as string).slice(0, Number(o.n));
const tokenizer = createTokenizer(JSON.parse(readFileSync(path.join(o.model, sidecar.vocab), "utf8")));
const enc = createStaticEncoder(decodeStaticQuery(new Uint8Array(readFileSync(path.join(o.model, sidecar.static)))), tokenizer);

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10000) / 10000;
  return { mean: r(ms.reduce((a, b) => a + b, 0) / ms.length), p50: r(s[Math.floor(s.length / 2)]), p99: r(s[Math.floor(s.length * 0.99)]) };
};
/** Per-query times of `fn` over every text, `rounds` times after a first round (whose times go to `firstRound`). */
const firstRound: number[] = [];
function timeEach(fn: (t: string) => unknown, rounds: number): number[] {
  for (const t of texts) {
    const t0 = performance.now();
    fn(t);
    firstRound.push(performance.now() - t0);
  }
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) for (const t of texts) {
    const t0 = performance.now();
    fn(t);
    out.push(performance.now() - t0);
  }
  return out;
}
const rounds = Number(o.rounds);
const staticMs = timeEach((t) => enc.encode(t), rounds);
const staticFirst = stats(firstRound.splice(0));
const tokenizeMs = timeEach((t) => tokenizer.encode(t), rounds);
const ids = texts.map((t) => tokenizer.encode(t));
let i = 0;
const lookupMs = timeEach(() => enc.encodeIds(ids[i++ % ids.length]), rounds);

const onnx = await createNodeEncoder({ modelPath: path.join(o.model, sidecar.edgeQuery ?? sidecar.query), device: "cpu", maxLen: sidecar.maxQueryTokens, intraOpThreads: 1, log: () => {} });
const modelTexts = texts.slice(0, Number(o["model-queries"]));
for (const t of modelTexts.slice(0, 20)) await onnx.encode([tokenizer.encode(t).slice(0, sidecar.maxQueryTokens)]);
const modelMs: number[] = [];
for (const t of modelTexts) {
  const t0 = performance.now();
  await onnx.encode([tokenizer.encode(t).slice(0, sidecar.maxQueryTokens)]);
  modelMs.push(performance.now() - t0);
}
await onnx.close();

// The same model in onnxruntime-web's wasm backend (single thread, as in the Worker), in Node.
const ortWeb = await import("onnxruntime-web/wasm");
ortWeb.env.wasm.numThreads = 1;
const session = await ortWeb.InferenceSession.create(new Uint8Array(readFileSync(path.join(o.model, sidecar.edgeQuery ?? sidecar.query))), { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
const runWasm = async (t: string) => {
  const ids = tokenizer.encode(t).slice(0, sidecar.maxQueryTokens);
  const { inputIds, attentionMask, dims } = toInputs([ids], sidecar.maxQueryTokens);
  await session.run({ input_ids: new ortWeb.Tensor("int64", inputIds, dims), attention_mask: new ortWeb.Tensor("int64", attentionMask, dims) });
};
for (const t of modelTexts.slice(0, 20)) await runWasm(t);
const wasmMs: number[] = [];
for (const t of modelTexts) {
  const t0 = performance.now();
  await runWasm(t);
  wasmMs.push(performance.now() - t0);
}
console.log(JSON.stringify({
  queries: texts.length, rounds, static: stats(staticMs), staticFirstRound: staticFirst, staticTokenizeOnly: stats(tokenizeMs), staticLookupSumNormalize: stats(lookupMs),
  model: { file: sidecar.edgeQuery ?? sidecar.query, runtime: "onnxruntime-node, 1 thread", queries: modelTexts.length, ...stats(modelMs) },
  modelWasm: { runtime: "onnxruntime-web wasm, 1 thread (the Worker's backend), in Node", queries: modelTexts.length, ...stats(wasmMs) },
}));
