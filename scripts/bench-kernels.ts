/**
 * The scoring kernels, JS reference against wasm SIMD, over n synthetic unit vectors held in kernel memory.
 *
 *   npx tsx scripts/bench-kernels.ts [--n 100000] [--dims 512] [--queries 30] [--distribution clustered|uniform]
 *       [--seed 1] [--json]
 *
 * Per query it times the int8 pass over all n vectors (JS, wasm), the binary pass in each mode (JS table; wasm
 * table, planes, sign), preparing the query, and JS top-k over the score array; it prints p50s and, for each
 * binary mode and rescoring depth, the recall@10 of binary pass + int8 rescoring against the exact int8 top 10
 * (and of exact int8 against exact float32). With --json: one JSON line on stdout.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { choiceFlag, intFlag, parseFlags, runCommand, STDIO } from "../offline/command.ts";
import { codeBytes, quantizeInt8, signCodes } from "../src/format/quantize.ts";
import { createKernels, type BinaryMode, type Kernels, type PreparedQuery } from "../src/search/kernels/index.ts";
import { createTopK } from "../src/search/topk.ts";

const USAGE = "usage: npx tsx scripts/bench-kernels.ts [--n 100000] [--dims 512] [--queries 30] [--distribution clustered|uniform] [--seed 1] [--json]";
const MODES: BinaryMode[] = ["table", "planes", "sign"];
const DEPTHS = [100, 200, 500, 1000];
const wasmPath = resolve(import.meta.dirname, "..", "src", "search", "kernels", "kernels.wasm");

/** Seeded uniform [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
    n: { type: "string" }, dims: { type: "string" }, queries: { type: "string" },
    distribution: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" },
  });
  const n = intFlag("n", o.n) ?? 100_000;
  const dims = intFlag("dims", o.dims) ?? 512;
  const queries = intFlag("queries", o.queries) ?? 30;
  const distribution = choiceFlag("distribution", o.distribution, ["clustered", "uniform"]) ?? "clustered";
  const rand = rng(intFlag("seed", o.seed, 0) ?? 1);

  const centres = unitVectors(Math.max(1, Math.round(n / 1000)), dims, "uniform", rand);
  const floats = unitVectors(n, dims, distribution, rand, centres);
  const { vectors, scales } = quantizeInt8(floats, dims);
  const codes = signCodes(floats, dims);
  const bytes = codeBytes(dims);

  const kernels = createKernels(new WebAssembly.Module(readFileSync(wasmPath)), { maxBytes: n * (dims + bytes + 16) + (64 << 20) });
  if (!kernels.simd) throw new Error("kernels.wasm did not instantiate (no wasm SIMD?)");
  const { arena } = kernels;
  const block = { vectors: arena.alloc(n * dims), scales: arena.alloc(4 * n), codes: arena.alloc(n * bytes), count: n };
  arena.int8At(block.vectors, n * dims).set(vectors);
  arena.f32At(block.scales, n).set(scales);
  arena.u8At(block.codes, n * bytes).set(codes);
  const out = arena.alloc(4 * n);
  const scoresOf = () => arena.f32At(out, n).slice();

  const t: Record<string, number[]> = {};
  const add = (name: string, ms: number) => (t[name] ??= []).push(ms);
  const recall: Record<string, number[]> = {};
  const addRecall = (name: string, r: number) => (recall[name] ??= []).push(r);
  let maxRelError = 0;

  const qs = unitVectors(queries + 3, dims, distribution, rand, centres);
  for (let qi = 0; qi < queries + 3; qi++) {
    const warm = qi < 3;
    const query = qs.subarray(qi * dims, (qi + 1) * dims);
    const exact = topIds(floatScores(floats, query, n, dims), 10);
    const run = (name: string, pq: () => PreparedQuery, fn: (q: PreparedQuery) => void): Float32Array => {
      let q!: PreparedQuery;
      const prep = time(() => (q = pq()));
      const ms = time(() => fn(q));
      q.release();
      if (!warm) add(name, ms), add(`${name}.prepare`, prep);
      return scoresOf();
    };
    const js = run("int8.js", () => kernels.prepare(query, { simd: false }), (q) => q.int8Scores(block, out));
    const wasm = run("int8.wasm", () => kernels.prepare(query), (q) => q.int8Scores(block, out));
    if (warm) continue;
    maxRelError = Math.max(maxRelError, relativeError(wasm, js));
    const int8Top = topIds(wasm, 10);
    add("topk10.js", time(() => topIds(wasm, 10)));
    addRecall("int8.vsFloat", overlap(int8Top, exact));
    run("binary.table.js", () => kernels.prepare(query, { simd: false, binary: "table" }), (q) => q.binaryScores(block, out));
    for (const mode of MODES) {
      const binary = run(`binary.${mode}.wasm`, () => kernels.prepare(query, { binary: mode }), (q) => q.binaryScores(block, out));
      add(`topk1000.js.${mode}`, time(() => topIds(binary, 1000)));
      for (const depth of DEPTHS) {
        const candidates = topIds(binary, depth);
        addRecall(`${mode}@${depth}`, overlap(topIds(wasm, 10, candidates), int8Top));
      }
    }
  }

  const result = {
    bench: "kernels", n, dims, distribution, queries, simd: kernels.simd,
    p50Ms: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, round(p50(v))])),
    recallVsInt8: Object.fromEntries(Object.entries(recall).map(([k, v]) => [k, round(v.reduce((a, b) => a + b, 0) / v.length)])),
    int8MaxErrorOfRange: maxRelError,
    wasmBytes: readFileSync(wasmPath).length,
  };
  if (o.json) console.log(JSON.stringify(result));
  else console.log(JSON.stringify(result, null, 2));
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
