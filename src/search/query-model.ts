// The query model run on this project's kernels: the int8 query tower that `python -m offline.train.export optimize`
// writes (USE-lite's two pre-LN transformer layers, mean pooling, a tanh layer, L2 norm; ../shared/notes/use-lite-spec.md)
// without onnxruntime. The matrix products are onnxruntime's DynamicQuantizeMatMul (the activations quantized to
// uint8 over the whole tensor, int8 weights per output column, exact int32 sums: kernels.wat qgemm); the attention's
// dot products and weighted sums run on the kernels too (attn_scores, attn_mix, f32); the rest follows the graph's
// float32 ops in JS. A new isolate has it in milliseconds where an onnxruntime-web session takes
// 100-200 ms (mostly compiling onnxruntime's wasm on first use), and it encodes a query in less time than onnxruntime
// (docs/RESULTS.md section 28). Any other graph is not taken (`queryModelOf`
// says why) and runs in onnxruntime. Pure: the worker and `i3 eval` run this same code; the test against
// onnxruntime-web on the shipped model is its oracle.
import { FormatError } from "../format/errors.ts";
import { readOnnx, ONNX_FLOAT, ONNX_INT64, ONNX_INT8, ONNX_UINT8, type OnnxGraph, type OnnxTensor } from "../format/onnx.ts";
import { createArena } from "./kernels/arena.ts";

/** The matrix products of the graph: [inputs, outputs] of each. */
const MATMULS = {
  "layers.0.attn.qkv": [256, 768],
  "layers.0.attn.out": [256, 512],
  "layers.0.res": [256, 512],
  "layers.0.ff1": [512, 1536],
  "layers.0.ff2": [1536, 512],
  "layers.1.attn.qkv": [512, 1536],
  "layers.1.attn.out": [512, 512],
  "layers.1.ff1": [512, 1536],
  "layers.1.ff2": [1536, 512],
  tanh_layer: [512, 512],
} as const;
type MatMulName = keyof typeof MATMULS;

/** The graph's op types and how often each occurs: any other graph is computed by onnxruntime. */
const GRAPH_OPS: Record<string, number> = {
  Mul: 10, DynamicQuantizeMatMul: 10, Unsqueeze: 8, Reshape: 8, Transpose: 8, Add: 7, Gather: 6, Concat: 5,
  LayerNormalization: 4, Shape: 3, ReduceSum: 3, Cast: 2, Split: 2, FusedMatMul: 2, Softmax: 2, MatMul: 2, Relu: 2,
  Clip: 2, Div: 2, Range: 1, Cos: 1, Sin: 1, DequantizeLinear: 1, Sub: 1, Tanh: 1, Sqrt: 1,
};

/**
 * The graph's other constants (type:dims:values): reshape shapes (4 heads of 64, then of 128), split sizes, the
 * embedding's x2, the attention mask's -1e9, the norm's 1e-12, axes. A re-export that changes any runs in onnxruntime.
 */
const GRAPH_CONSTANTS = [
  "7:1:-1", "7:1:256", "7:1:512", "7:1:64", "7:1:1", "7:1:2", "7::0", "7::1", "7:3:256,256,256", "7:1:4", "7:1:128",
  "7:1:0", "7:3:512,512,512", "1::0", "1::2", `1::${Math.fround(1e-12)}`, "1::-1000000000", "1::1",
].sort();

const EMBED = 256;
const WIDTH = 512;
const HEADS = 4;
const LN_EPS = Math.fround(1e-6);
const FFN = 1536;
/** Positions the timing signal is defined for (USE-lite's longest input). */
const MAX_POSITIONS = 128;

/** The kernels.wat functions the model uses (arena offsets). */
interface ModelKernels {
  range_f32(x: number, count: number, mm: number): void;
  quantize_u8(x: number, count: number, scale: number, zp: number, a16: number): void;
  transpose_i8(src: number, rows: number, cols: number, dst: number): void;
  attn_scores(qkv: number, t: number, width: number, qo: number, hd: number, s: number): void;
  attn_mix(qkv: number, t: number, width: number, qo: number, hd: number, a: number, out: number): void;
  qgemm(a16: number, tokens: number, k: number, w: number, n: number, ascale: number, wscale: number, bias: number, out: number): void;
}

/** A query tower on the kernels: token ids (already truncated by the caller) in, a unit vector out. */
export interface QueryModel {
  readonly dim: number;
  /** Bytes it holds: its kernel memory and the embedding table. */
  readonly bytes: number;
  encode(ids: readonly number[]): Float32Array;
}

/** Why a model is not run on the kernels (it then runs in onnxruntime). */
export interface NotTaken {
  reason: string;
}

interface Weights {
  embed: Uint8Array;
  embedScale: number;
  embedZero: number;
  vocab: number;
  invTimescales: Float32Array;
  norms: Map<string, { g: Float32Array; b: Float32Array }>;
  /** Weights as stored: [k, n] int8, row-major (views into the model's bytes). */
  matmuls: Map<MatMulName, { w: Uint8Array; scale: Float32Array; bias: Float32Array }>;
}

function f32(t: OnnxTensor | undefined): Float32Array | undefined {
  if (!t || t.dataType !== ONNX_FLOAT) return undefined;
  return new Float32Array(t.bytes.slice().buffer);
}

/** An initializer's values as numbers (int64 and float32; others give none). */
function values(t: OnnxTensor): number[] {
  const b = t.bytes.slice().buffer;
  if (t.dataType === ONNX_INT64) return Array.from(new BigInt64Array(b), Number);
  if (t.dataType === ONNX_FLOAT) return Array.from(new Float32Array(b));
  return [];
}

/** The weights of a graph this engine computes, or why it is not one. */
function weightsOf(g: OnnxGraph): Weights | NotTaken {
  const ops = new Map<string, number>();
  for (const n of g.nodes) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
  const same = ops.size === Object.keys(GRAPH_OPS).length && [...ops].every(([op, n]) => GRAPH_OPS[op] === n);
  if (!same) return { reason: "the graph is not the optimized int8 query tower (its ops differ)" };
  const init = g.initializers;
  const used = new Set<string>();
  const take = (name: string | undefined) => {
    if (name === undefined) return undefined;
    used.add(name);
    return init.get(name);
  };

  const matmuls: Weights["matmuls"] = new Map();
  for (const n of g.nodes) {
    if (n.opType !== "DynamicQuantizeMatMul") continue;
    const name = /^enc\.(.+)\.bias$/.exec(n.inputs[4] ?? "")?.[1] as MatMulName | undefined;
    if (!name || !(name in MATMULS) || matmuls.has(name)) return { reason: `a matrix product with bias "${n.inputs[4]}"` };
    const [k, out] = MATMULS[name];
    const [w, scale, zero, bias] = [1, 2, 3, 4].map((i) => take(n.inputs[i]));
    if (!w || w.dataType !== ONNX_INT8 || w.dims.join() !== `${k},${out}`) return { reason: `${name}: weights not int8 [${k}, ${out}]` };
    if (!zero || zero.dataType !== ONNX_INT8 || zero.bytes.length !== out || zero.bytes.some((z) => z !== 0)) {
      return { reason: `${name}: weight zero points not ${out} zeros` };
    }
    const s = f32(scale);
    const b = f32(bias);
    if (!s || s.length !== out || !b || b.length !== out) return { reason: `${name}: scales or bias not ${out} floats` };
    matmuls.set(name, { w: w.bytes, scale: s, bias: b });
  }
  if (matmuls.size !== Object.keys(MATMULS).length) return { reason: "matrix products missing" };

  const norms: Weights["norms"] = new Map();
  for (const n of g.nodes) {
    if (n.opType !== "LayerNormalization") continue;
    const name = /^enc\.(layers\.[01]\.ln[12])\.weight$/.exec(n.inputs[1] ?? "")?.[1];
    if (!name || norms.has(name) || n.inputs[2] !== `enc.${name}.bias`) return { reason: `a layer norm of "${n.inputs[1]}"` };
    if (n.attributes.epsilon !== LN_EPS || n.attributes.axis !== -1) return { reason: `${name}: layer norm epsilon or axis not 1e-6, -1` };
    const g0 = f32(take(n.inputs[1]));
    const b0 = f32(take(n.inputs[2]));
    const width = name === "layers.0.ln1" ? EMBED : WIDTH;
    if (!g0 || !b0 || g0.length !== width || b0.length !== width) return { reason: `${name}: layer norm not ${width} wide` };
    norms.set(name, { g: g0, b: b0 });
  }
  if (norms.size !== 4) return { reason: "layer norms missing" };

  const alphas = g.nodes.filter((n) => n.opType === "FusedMatMul");
  const heads = [EMBED / HEADS, WIDTH / HEADS];
  if (alphas.some((n, i) => n.attributes.alpha !== Math.fround(1 / Math.sqrt(heads[i])) || n.attributes.transA || n.attributes.transB)) {
    return { reason: "attention scores not scaled by 1/sqrt(head dims) of 4 heads" };
  }
  if (g.nodes.some((n) => n.opType === "Softmax" && n.attributes.axis !== -1)) return { reason: "a softmax not over the last axis" };

  const table = take("enc.embeddings.weight_quantized");
  const scale = f32(take("enc.embeddings.weight_scale"));
  const zero = take("enc.embeddings.weight_zero_point");
  if (!table || table.dataType !== ONNX_UINT8 || table.dims.length !== 2 || table.dims[0] < 1 || table.dims[1] !== EMBED || !scale || scale.length !== 1 || !zero || zero.dataType !== ONNX_UINT8 || zero.bytes.length !== 1) {
    return { reason: "the token embeddings are not uint8 rows of 256 with one scale" };
  }
  // the timing signal's inverse timescales: the [1, 128] float constant a Mul node takes
  const timing = g.nodes.filter((n) => n.opType === "Mul").flatMap((n) => n.inputs).find((i) => init.get(i)?.dims.join() === `1,${EMBED / 2}`);
  const invTimescales = f32(take(timing));
  if (!invTimescales) return { reason: "no timing signal constant [1, 128]" };

  const constants = [...init.values()].filter((t) => !used.has(t.name)).map((t) => `${t.dataType}:${t.dims.join()}:${values(t).join()}`).sort();
  if (constants.join("|") !== GRAPH_CONSTANTS.join("|")) return { reason: "the graph's constants differ (heads, head dims, splits or masks)" };
  return { embed: table.bytes.slice(), embedScale: scale[0], embedZero: zero.bytes[0], vocab: table.dims[0], invTimescales, norms, matmuls };
}

/**
 * The query model of an ONNX file on the kernels (compiled kernels.wasm; undefined where the engine has no wasm
 * SIMD), or why it is not taken: a graph other than the optimized int8 query tower, bytes this reader cannot read,
 * or no wasm SIMD.
 *
 * @example
 * const m = queryModelOf(onnxBytes, kernelsModule, 32);
 * if (!("reason" in m)) m.encode(tokenizer.encode("what is a hybrid search").slice(0, 32));
 */
export function queryModelOf(bytes: Uint8Array, module: WebAssembly.Module | undefined, maxTokens: number): QueryModel | NotTaken {
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > MAX_POSITIONS) {
    throw new RangeError(`query model: maxTokens must be an integer in 1..${MAX_POSITIONS}, got ${maxTokens}`);
  }
  if (!module) return { reason: "no wasm SIMD kernels" };
  let graph: OnnxGraph;
  try {
    graph = readOnnx(bytes);
  } catch (e) {
    return { reason: `not read as an ONNX model (${(e as Error).message})` }; // onnxruntime has the last word on it
  }
  const w = weightsOf(graph);
  if ("reason" in w) return w;
  return createQueryModel(w, module, maxTokens);
}

function createQueryModel(w: Weights, module: WebAssembly.Module, maxTokens: number): QueryModel {
  const rows = Math.max(2, maxTokens + (maxTokens & 1)); // qgemm takes tokens in pairs
  let weightBytes = EMBED * FFN * 2;
  for (const [k, n] of Object.values(MATMULS)) weightBytes += k * n + 8 * n + 64;
  const bufBytes = rows * FFN * 4 * 2 + rows * FFN * 2 + 4 * rows * rows + 4 * rows * WIDTH + 64 * 5;
  const arena = createArena({ maxBytes: Math.ceil((weightBytes + bufBytes + (1 << 17)) / 65536) * 65536 });
  const k = new WebAssembly.Instance(module, { env: { memory: arena.memory } }).exports as unknown as ModelKernels;

  const placed = new Map<MatMulName, { w: number; scale: number; bias: number; k: number; n: number }>();
  const stored = arena.alloc(EMBED * FFN * 2); // the largest weight matrix as stored, before its transpose
  for (const [name, m] of w.matmuls) {
    const [kk, n] = MATMULS[name];
    const at = { w: arena.alloc(kk * n), scale: arena.alloc(4 * n), bias: arena.alloc(4 * n), k: kk, n };
    // transposed, so that row j (output column j) is k contiguous bytes for qgemm
    arena.u8At(stored, kk * n).set(m.w);
    k.transpose_i8(stored, kk, n, at.w);
    arena.f32At(at.scale, n).set(m.scale);
    arena.f32At(at.bias, n).set(m.bias);
    placed.set(name, at);
  }
  arena.free(stored);
  w.matmuls.clear(); // its views would keep the model's bytes alive: the kernel memory holds the weights now
  const xAt = arena.alloc(4 * rows * FFN);
  const a16At = arena.alloc(2 * rows * FFN);
  const outAt = arena.alloc(4 * rows * FFN);
  const mmAt = arena.alloc(16);
  const scoresAt = arena.alloc(4 * rows * rows); // one head's attention weights
  const attAt = arena.alloc(4 * rows * WIDTH); // the heads' outputs, merged
  const mem = () => arena.memory.buffer;

  /** out = DynamicQuantizeMatMul(x [t, k], name): onnxruntime's quantization of x, then the int8 product. */
  function matmul(name: MatMulName, x: Float32Array, t: number): Float32Array {
    product(name, x, t);
    return new Float32Array(mem(), outAt, t * placed.get(name)!.n).slice();
  }

  /** The product of `matmul`, left in kernel memory at outAt (until the next product). */
  function product(name: MatMulName, x: Float32Array, t: number): void {
    const m = placed.get(name)!;
    const count = t * m.k;
    new Float32Array(mem(), xAt, count).set(x.subarray(0, count));
    k.range_f32(xAt, count, mmAt);
    const [lo, hi] = new Float32Array(mem(), mmAt, 2);
    // onnxruntime GetQuantizationParameter: scale over [min(0, x), max(0, x)], zero point rounded half to even
    const scale = hi === lo ? 1 : Math.fround(Math.fround(hi - lo) / 255);
    const zp = roundHalfEven(Math.min(255, Math.max(0, Math.fround(0 - Math.fround(lo / scale)))));
    k.quantize_u8(xAt, count, scale, zp, a16At);
    const tp = t + (t & 1);
    if (tp !== t) new Int16Array(mem(), a16At + 2 * count, m.k).fill(0);
    k.qgemm(a16At, tp, m.k, m.w, m.n, scale, m.scale, m.bias, outAt);
  }

  function layerNorm(name: string, x: Float32Array, t: number, width: number): Float32Array {
    const { g, b } = w.norms.get(name)!;
    const out = new Float32Array(t * width);
    for (let r = 0; r < t; r++) {
      const at = r * width;
      let mean = 0;
      for (let d = 0; d < width; d++) mean += x[at + d];
      mean = Math.fround(mean / width);
      let v = 0;
      for (let d = 0; d < width; d++) {
        const c = Math.fround(x[at + d] - mean);
        v += c * c;
      }
      const inv = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(v / width) + LN_EPS)));
      for (let d = 0; d < width; d++) out[at + d] = Math.fround(Math.fround(Math.fround(x[at + d] - mean) * inv) * g[d]) + b[d];
    }
    return out;
  }

  /**
   * Multi-head self-attention over the qkv product `name` of y (q | k | v, no padding): softmax(alpha q k^T) v, heads
   * merged. The dot products and the weighted sums run on the kernels (attn_scores, attn_mix), the softmax here.
   */
  function attention(name: MatMulName, y: Float32Array, t: number, width: number): Float32Array {
    product(name, y, t); // qkv at outAt
    const hd = width / HEADS;
    const alpha = Math.fround(1 / Math.sqrt(hd));
    for (let h = 0; h < HEADS; h++) {
      k.attn_scores(outAt, t, width, h * hd, hd, scoresAt);
      const a = new Float32Array(mem(), scoresAt, t * t);
      for (let i = 0; i < t; i++) {
        const row = i * t;
        let max = -Infinity;
        for (let j = 0; j < t; j++) {
          const v = Math.fround(a[row + j] * alpha);
          a[row + j] = v;
          if (v > max) max = v;
        }
        let sum = 0;
        for (let j = 0; j < t; j++) sum += a[row + j] = Math.exp(a[row + j] - max);
        for (let j = 0; j < t; j++) a[row + j] = a[row + j] / sum;
      }
      k.attn_mix(outAt, t, width, h * hd, hd, scoresAt, attAt);
    }
    return new Float32Array(mem(), attAt, t * width).slice();
  }

  function add(a: Float32Array, b: Float32Array): Float32Array {
    for (let i = 0; i < a.length; i++) a[i] += b[i];
    return a;
  }

  function relu(a: Float32Array): Float32Array {
    for (let i = 0; i < a.length; i++) if (a[i] < 0) a[i] = 0;
    return a;
  }

  // The timing signal of every position a query may have: sin(j * inv_ts) | cos(j * inv_ts), each rounded to f32.
  const half = EMBED / 2;
  const timing = new Float32Array(maxTokens * EMBED);
  for (let j = 0; j < maxTokens; j++) {
    for (let d = 0; d < EMBED; d++) {
      const angle = Math.fround(j * w.invTimescales[d % half]);
      timing[j * EMBED + d] = d < half ? Math.sin(angle) : Math.cos(angle);
    }
  }

  /** x0[j] = 2 * E[id_j] + timing signal(j): the embeddings as the graph makes them. */
  function embed(ids: readonly number[]): Float32Array {
    const t = ids.length;
    const x = new Float32Array(t * EMBED);
    for (let j = 0; j < t; j++) {
      const id = ids[j];
      // onnxruntime's Gather refuses such an id too: the vocab and the model do not belong together (a broken index)
      if (!(Number.isInteger(id) && id >= 0 && id < w.vocab)) throw new FormatError("invalid_object", `query model: token id ${id} outside its ${w.vocab} embeddings`);
      for (let d = 0; d < EMBED; d++) {
        const e = Math.fround((w.embed[id * EMBED + d] - w.embedZero) * w.embedScale);
        x[j * EMBED + d] = 2 * e + timing[j * EMBED + d];
      }
    }
    return x;
  }

  /** The tanh layer and the L2 norm over the pooled vector (one row). */
  function head(pooled: Float32Array): Float32Array {
    const y = matmul("tanh_layer", pooled, 1);
    let ss = 0;
    for (let d = 0; d < WIDTH; d++) {
      y[d] = Math.tanh(y[d]);
      ss = Math.fround(ss + Math.fround(y[d] * y[d]));
    }
    const norm = Math.fround(Math.sqrt(Math.max(ss, Math.fround(1e-12))));
    for (let d = 0; d < WIDTH; d++) y[d] = y[d] / norm;
    return y;
  }

  function encode(ids: readonly number[]): Float32Array {
    const t = Math.min(ids.length, maxTokens);
    // An empty query: every slot is masked, the pooled vector is zero, the answer the tanh layer's bias alone.
    if (t === 0) return head(new Float32Array(WIDTH));
    const x0 = embed(ids.slice(0, t));
    // layer 0: 256 -> 512, the residual through its own projection
    let y = layerNorm("layers.0.ln1", x0, t, EMBED);
    let h = add(matmul("layers.0.res", x0, t), matmul("layers.0.attn.out", attention("layers.0.attn.qkv", y, t, EMBED), t));
    y = layerNorm("layers.0.ln2", h, t, WIDTH);
    h = add(h, matmul("layers.0.ff2", relu(matmul("layers.0.ff1", y, t)), t));
    // layer 1: 512 wide
    y = layerNorm("layers.1.ln1", h, t, WIDTH);
    h = add(h, matmul("layers.1.attn.out", attention("layers.1.attn.qkv", y, t, WIDTH), t));
    y = layerNorm("layers.1.ln2", h, t, WIDTH);
    h = add(h, matmul("layers.1.ff2", relu(matmul("layers.1.ff1", y, t)), t));
    // mean pooling
    const pooled = new Float32Array(WIDTH);
    for (let r = 0; r < t; r++) for (let d = 0; d < WIDTH; d++) pooled[d] += h[r * WIDTH + d];
    for (let d = 0; d < WIDTH; d++) pooled[d] = pooled[d] / t;
    return head(pooled);
  }

  return { dim: WIDTH, bytes: arena.memory.buffer.byteLength + w.embed.byteLength + timing.byteLength, encode };
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
