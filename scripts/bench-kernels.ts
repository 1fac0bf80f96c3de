/**
 * The scoring kernels, JS reference against wasm SIMD, over n synthetic unit vectors held in kernel memory.
 *
 *   npx tsx scripts/bench-kernels.ts [--n 100000] [--dims 512] [--queries 30] [--distribution clustered|uniform]
 *       [--rescore 1000] [--repeat 3] [--seed 1] [--json]
 *
 * Per query (best of --repeat runs, then the p50 over queries) it times the exact int8 pass over all n vectors
 * (JS reference, wasm), the binary pass (JS, wasm; byte tables built included), top-k over the scores (JS
 * createTopK, wasm selectTop), and wasm int8 rescoring of the --rescore best binary candidates; then the two whole
 * pipelines (exact int8 + top 10; binary + top --rescore + rescoring). It reports recall@10 of the binary pipeline at several depths
 * against the exact int8 top 10 and against exact float32, the largest error of the int8 scores (int16 query) against
 * the int8 scores of the float query (score.ts int8Dot) relative to the query's score range, and the .wasm size; it
 * stops unless wasm and the JS reference give the same int8 scores to the bit. With --json: one JSON line on stdout.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { choiceFlag, intFlag, parseFlags, runCommand, STDIO, UsageError } from "../offline/command.ts";
import { codeBytes, quantizeInt8, signCodes } from "../src/format/quantize.ts";
import { compileKernels, createKernels, type PreparedQuery } from "../src/search/kernels/index.ts";
import { int8Dot } from "../src/search/score.ts";
import { createTopK } from "../src/search/topk.ts";
import { rng } from "../src/random.ts";

const USAGE =
  "usage: npx tsx scripts/bench-kernels.ts [--n 100000] [--dims 512] [--queries 30] [--distribution clustered|uniform] [--rescore 1000] [--repeat 3] [--seed 1] [--json]";
const DEPTHS = [100, 200, 500, 1000];
const wasmPath = resolve(import.meta.dirname, "..", "src", "search", "kernels", "kernels.wasm");


function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** n unit vectors: uniform on the sphere, or around n/1000 random centres (noise of the centre's norm). */
function unitVectors(n: number, dims: number, distribution: string, rand: () => number, centres?: Float32Array): Float32Array {
  const out = new Float32Array(n * dims);
  const k = centres ? centres.length / dims : 0;
  for (let i = 0; i < n; i++) {
    const c = centres ? Math.floor(rand() * k) * dims : -1;
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      const x = gaussian(rand) + (distribution === "clustered" && centres ? centres[c + d] * Math.sqrt(dims) : 0);
      out[i * dims + d] = x;
      norm += x * x;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < dims; d++) out[i * dims + d] *= inv;
  }
  return out;
}

function topIds(scores: ArrayLike<number>, k: number, ids?: ArrayLike<number>): number[] {
  const top = createTopK(k);
  const n = ids ? ids.length : scores.length;
  for (let j = 0; j < n; j++) {
    const i = ids ? ids[j] : j;
    if (scores[i] > top.threshold()) top.push(i, scores[i]);
  }
  return top.sorted().map((h) => h.id);
}

/** The same scores picked (selectTop and createTopK may break exact ties differently). */
function sameScores(a: ArrayLike<number>, b: number[], scores: Float32Array): boolean {
  const sorted = (rows: ArrayLike<number>) => Array.from(rows, (i) => scores[i]).sort((x, y) => x - y);
  return sorted(a).join() === sorted(b).join();
}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`bench-kernels: ${what} does not hold`);
}

function overlap(a: number[], b: number[]): number {
  const s = new Set(b);
  return a.filter((x) => s.has(x)).length / b.length;
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const round = (x: number, digits = 3) => Number(x.toFixed(digits));

async function main(argv: string[]): Promise<void> {
  const { values: o } = parseFlags(argv, {
    n: { type: "string" }, dims: { type: "string" }, queries: { type: "string" }, distribution: { type: "string" },
    rescore: { type: "string" }, repeat: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" },
  });
  const n = intFlag("n", o.n) ?? 100_000;
  const dims = intFlag("dims", o.dims) ?? 512;
  if (dims % 16 !== 0 || dims > 1024) throw new UsageError(`--dims must be a multiple of 16 up to 1024 (what the wasm kernels take), got ${dims}`);
  const queries = intFlag("queries", o.queries) ?? 30;
  const distribution = choiceFlag("distribution", o.distribution, ["clustered", "uniform"]) ?? "clustered";
  const rescore = intFlag("rescore", o.rescore) ?? 1000;
  const repeat = intFlag("repeat", o.repeat) ?? 3;
  const rand = rng(intFlag("seed", o.seed, 0) ?? 1);

  const centres = unitVectors(Math.max(1, Math.round(n / 1000)), dims, "uniform", rand);
  const floats = unitVectors(n, dims, distribution, rand, centres);
  const { vectors, scales } = quantizeInt8(floats, dims);
  const codes = signCodes(floats, dims);
  const bytes = codeBytes(dims);

  const wasm = readFileSync(wasmPath);
  const kernels = createKernels(compileKernels(wasm), { maxBytes: n * (dims + bytes + 12) + (16 << 20) });
  if (!kernels.simd) throw new Error("this engine has no wasm SIMD: nothing to compare");
  const { arena } = kernels;
  const block = { vectors: arena.alloc(n * dims), scales: arena.alloc(4 * n), codes: arena.alloc(n * bytes), count: n };
  arena.int8At(block.vectors, n * dims).set(vectors);
  arena.f32At(block.scales, n).set(scales);
  arena.u8At(block.codes, n * bytes).set(codes);
  const out = arena.alloc(4 * n);

  const times: Record<string, number[]> = {};
  const recall: Record<string, number[]> = {};
  const push = (to: Record<string, number[]>, name: string, x: number) => (to[name] ??= []).push(x);
  /** Best of `repeat` runs of fn on a fresh prepared query; the scores it left at `out`. */
  const run = (name: string, query: Float32Array, simd: boolean, fn: (q: PreparedQuery) => void): Float32Array => {
    let best = Infinity;
    for (let r = 0; r < repeat; r++) {
      const q = kernels.prepare(query, { simd });
      best = Math.min(best, time(() => fn(q)));
      q.release();
    }
    push(times, name, best);
    return arena.f32At(out, n).slice();
  };
  const best = (fn: () => void) => Math.min(...Array.from({ length: repeat }, () => time(fn)));

  let maxRelError = 0;
  const qs = unitVectors(queries, dims, distribution, rand, centres);
  for (let qi = 0; qi < queries; qi++) {
    const query = qs.subarray(qi * dims, (qi + 1) * dims);
    const exact = topIds(floatScores(floats, query, n, dims), 10);
    const int8Js = run("int8.js", query, false, (q) => q.int8Scores(block, out));
    const int8 = run("int8.wasm", query, true, (q) => q.int8Scores(block, out));
    expect(int8.every((x, i) => Object.is(x, int8Js[i])), "wasm int8 scores = JS reference int8 scores");
    const floatQuery = Float32Array.from({ length: n }, (_, i) => int8Dot(query, vectors, scales, i));
    maxRelError = Math.max(maxRelError, relativeError(int8, floatQuery));
    const int8Top = topIds(int8, 10);
    push(recall, "int8.vsFloatQueryInt8", overlap(int8Top, topIds(floatQuery, 10)));
    push(times, "topk10.js", best(() => topIds(int8, 10)));
    push(times, "select10.wasm", best(() => kernels.selectTop(out, n, 10)));
    expect(sameScores(kernels.selectTop(out, n, 10), int8Top, int8), "selectTop(10) = top 10");
    push(recall, "int8.vsFloat", overlap(int8Top, exact));

    run("binary.js", query, false, (q) => q.binaryScores(block, out));
    const binary = run("binary.wasm", query, true, (q) => q.binaryScores(block, out));
    push(times, `topk${rescore}.js`, best(() => topIds(binary, rescore)));
    push(times, `select${rescore}.wasm`, best(() => kernels.selectTop(out, n, rescore)));
    const candidates = kernels.selectTop(out, n, rescore);
    expect(sameScores(candidates, topIds(binary, rescore), binary), `selectTop(${rescore}) = top ${rescore}`);
    const q = kernels.prepare(query);
    push(times, "rescore.wasm", best(() => q.int8RowScores(block, candidates)));
    q.release();
    for (const depth of [...new Set([...DEPTHS, rescore])].sort((a, b) => a - b)) {
      const top = topIds(int8, 10, topIds(binary, depth));
      push(recall, `binary@${depth}.vsInt8`, overlap(top, int8Top));
      push(recall, `binary@${depth}.vsFloat`, overlap(top, exact));
    }
  }

  const p50s = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, round(p50(v))]));
  const result = {
    bench: "kernels", n, dims, distribution, queries, repeat, rescore, simd: kernels.simd,
    p50Ms: {
      ...p50s,
      "pipeline.exact.wasm": round(p50s["int8.wasm"] + p50s["select10.wasm"]),
      "pipeline.binary.wasm": round(p50s["binary.wasm"] + p50s[`select${rescore}.wasm`] + p50s["rescore.wasm"]),
    },
    recall: Object.fromEntries(Object.entries(recall).map(([k, v]) => [k, round(v.reduce((a, b) => a + b, 0) / v.length)])),
    int8MaxErrorOfRange: Number(maxRelError.toPrecision(3)),
    wasmBytes: wasm.length,
  };
  console.log(o.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
}

/** Exact float32 inner products (the recall reference). */
function floatScores(floats: Float32Array, q: Float32Array, n: number, dims: number): Float64Array {
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let d = 0; d < dims; d++) acc += floats[i * dims + d] * q[d];
    s[i] = acc;
  }
  return s;
}

/** max |a - b| over the range of b. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let max = 0, lo = Infinity, hi = -Infinity;
  for (let i = 0; i < b.length; i++) {
    max = Math.max(max, Math.abs(a[i] - b[i]));
    lo = Math.min(lo, b[i]);
    hi = Math.max(hi, b[i]);
  }
  return max / (hi - lo);
}

process.exitCode = await runCommand("bench-kernels", USAGE, process.argv.slice(2), STDIO, () => main(process.argv.slice(2)));
