/**
 * Passage-encoding throughput of models/use-lite/encoder.onnx (fp32) in onnxruntime-node, CPU:
 * batches of 32 SciFact abstracts, each truncated to (and, for the short ones, padded to) 128 tokens.
 *
 *   npx tsx scripts/bench-encode.ts [--batches 8] [--threads 2] [--model models/use-lite/encoder.onnx]
 *     [--corpus <scifact corpus.jsonl>]   (default: $I3_DATA/scifact/corpus.jsonl)
 *
 * Prints passages/s (after one warm-up batch).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { createTokenizer } from "../src/text/tokenizer/index.ts";

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const ROOT = process.cwd();
const MODEL = arg("model", join(ROOT, "models", "use-lite", "encoder.onnx"));
const BATCHES = Number(arg("batches", "8"));
const THREADS = Number(arg("threads", "2"));
const CORPUS = arg("corpus", process.env.I3_DATA ? join(process.env.I3_DATA, "scifact", "corpus.jsonl") : "");
if (!CORPUS) {
  console.error("bench-encode: give --corpus <scifact corpus.jsonl> or set I3_DATA to the folder of the BEIR corpora");
  process.exit(2);
}
const B = 32, L = 128;

const tokenizer = createTokenizer(JSON.parse(readFileSync(join(ROOT, "models", "use-lite", "vocab.json"), "utf8")));
const lines = readFileSync(CORPUS, "utf8").split("\n").filter(Boolean).slice(0, B * (BATCHES + 1));
const ids = lines.map((l) => tokenizer.encode(JSON.parse(l).text as string).slice(0, L));

function feeds(rows: number[][]): Record<string, ort.Tensor> {
  const a = new BigInt64Array(rows.length * L), m = new BigInt64Array(rows.length * L);
  rows.forEach((r, i) => r.forEach((id, j) => { a[i * L + j] = BigInt(id); m[i * L + j] = 1n; }));
  return { input_ids: new ort.Tensor("int64", a, [rows.length, L]), attention_mask: new ort.Tensor("int64", m, [rows.length, L]) };
}

const session = await ort.InferenceSession.create(MODEL, { intraOpNumThreads: THREADS, interOpNumThreads: 1 });
await session.run(feeds(ids.slice(0, B))); // warm-up
const full = ids.slice(B).filter((r) => r.length === L).length;
const t0 = performance.now();
let n = 0;
for (let b = 1; b <= BATCHES && b * B < ids.length; b++) {
  const rows = ids.slice(b * B, (b + 1) * B);
  await session.run(feeds(rows));
  n += rows.length;
}
const s = (performance.now() - t0) / 1000;
console.log(
  `${MODEL.split("/").slice(-2).join("/")}: ${n} passages in ${s.toFixed(2)} s (batch ${B} x ${L} tokens, ` +
    `${full}/${ids.length - B} reach 128 tokens, ${THREADS} intra-op threads) = ${(n / s).toFixed(1)} passages/s`,
);
await session.release();
