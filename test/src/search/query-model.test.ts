// The query model on the kernels (src/search/query-model.ts) against onnxruntime-web (wasm, as the worker ran it
// before; onnxruntime-node's x86 int8 kernels may saturate on CPUs without VNNI) running the same ONNX file, the
// shipped int8 query tower: its oracle. The int8 graph quantizes its activations over the whole tensor, so a float
// difference in the last bit upstream can move a value one quantization step; most queries give onnxruntime's vector
// to within 1e-5, the rest stay within a small angle, and both are as near the float32 model's vectors.
import { readFileSync } from "node:fs";
import path from "node:path";
import * as ort from "onnxruntime-web/wasm";
import { beforeAll, describe, expect, it } from "vitest";
import { FormatError } from "../../../src/format/errors.ts";
import { readOnnx } from "../../../src/format/onnx.ts";
import { queryModelOf, type QueryModel } from "../../../src/search/query-model.ts";
import { createTokenizer } from "../../../src/text/tokenizer/index.ts";
import { toInputs } from "../../../src/text/tensors.ts";
import { loadKernelsModule } from "./kernels/module.ts";

const root = path.join(import.meta.dirname, "../../..");
ort.env.wasm.numThreads = 1;
const session = (file: string, graphOptimizationLevel: "disabled" | "all") =>
  ort.InferenceSession.create(new Uint8Array(readFileSync(file)), { executionProviders: ["wasm"], graphOptimizationLevel });
const MODEL = path.join(root, "models/i3-scifact/query.int8.onnx");
const FP32 = path.join(root, "models/i3-scifact/query.onnx");
const MAX = 32;
const tokenizer = createTokenizer(JSON.parse(readFileSync(path.join(root, "models/i3-scifact/vocab.json"), "utf8")));

/** Queries of every shape: the fixture's, the tokenizer cases (unk runs, odd spacing), cut corpus text, long ones. */
function texts(): string[] {
  const lines = (f: string) => readFileSync(path.join(root, f), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const queries = lines("test/fixtures/scifact-mini/queries.jsonl").map((q) => q.text as string);
  const cases = (JSON.parse(readFileSync(path.join(root, "test/fixtures/tokenizer-cases.json"), "utf8")) as { cases: Array<{ text: string }> }).cases.map((c) => c.text);
  const cut = lines("test/fixtures/scifact-mini/corpus.jsonl").map((d, i) => (d.text as string).split(" ").slice(i % 7, (i % 7) + 3 + (i % 23)).join(" "));
  return [...queries, ...cases.slice(0, 200), ...cut, "", "a", "x ".repeat(60)];
}

async function ortVector(s: ort.InferenceSession, ids: number[]): Promise<Float32Array> {
  const { inputIds, attentionMask, dims } = toInputs([ids], MAX);
  const out = await s.run({ input_ids: new ort.Tensor("int64", inputIds, dims), attention_mask: new ort.Tensor("int64", attentionMask, dims) });
  return out.embedding.data as Float32Array;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

let model: QueryModel;
beforeAll(() => {
  const m = queryModelOf(new Uint8Array(readFileSync(MODEL)), loadKernelsModule(), MAX);
  if ("reason" in m) throw new Error(`the shipped query model is not taken: ${m.reason}`);
  model = m;
});

describe("the query model on the kernels", () => {
  it("gives onnxruntime's vectors: most within 1e-5, every one within cosine 0.998, as near the float32 model", async () => {
    const int8 = await session(MODEL, "disabled");
    const fp32 = await session(FP32, "all");
    const all = texts();
    expect(all.length).toBeGreaterThan(500);
    let close = 0, cosOrt = 0, cosKernels = 0;
    for (const text of all) {
      const ids = tokenizer.encode(text).slice(0, MAX);
      const [want, exact] = [await ortVector(int8, ids), await ortVector(fp32, ids)];
      const got = model.encode(ids);
      expect(got).toHaveLength(512);
      expect(dot(got, got)).toBeCloseTo(1, 5);
      expect(dot(got, want), text).toBeGreaterThanOrEqual(0.998);
      if (got.every((x, d) => Math.abs(x - want[d]) <= 1e-5)) close++;
      cosOrt += dot(want, exact);
      cosKernels += dot(got, exact);
    }
    expect(close / all.length).toBeGreaterThanOrEqual(0.7); // 74% of these 533 on 2026-11-30
    expect(Math.abs(cosKernels - cosOrt) / all.length).toBeLessThan(2e-4);
    await Promise.all([int8.release(), fp32.release()]);
  });

  it("reads only the first maxTokens ids, and answers an empty query as the graph does (the tanh layer's bias)", async () => {
    const ids = tokenizer.encode("x ".repeat(60));
    expect(ids.length).toBeGreaterThan(MAX);
    expect(Array.from(model.encode(ids))).toEqual(Array.from(model.encode(ids.slice(0, MAX))));
    const int8 = await session(MODEL, "disabled");
    const want = await ortVector(int8, []);
    const got = model.encode([]);
    expect(got.every((x, d) => Math.abs(x - want[d]) <= 1e-6)).toBe(true);
    await int8.release();
  });

  it("gives the same bits whatever its window and whatever it encoded before; refuses an id outside its embeddings", async () => {
    const bytes = new Uint8Array(readFileSync(MODEL));
    const module = loadKernelsModule();
    const odd = queryModelOf(bytes, module, 31) as QueryModel;
    const wide = queryModelOf(bytes, module, 128) as QueryModel;
    const a = tokenizer.encode("vitamin D deficiency and bone density in the elderly");
    const b = tokenizer.encode("what is the half life of caffeine in adults");
    const first = Array.from(model.encode(a));
    model.encode(tokenizer.encode("x ".repeat(60)).slice(0, MAX)); // every buffer written past a's rows
    model.encode(b);
    expect(Array.from(model.encode(a))).toEqual(first);
    expect(Array.from(odd.encode(a))).toEqual(first);
    expect(Array.from(wide.encode(a))).toEqual(first);
    // 100 tokens: beyond the shipped window, within the model's 128 positions
    const long = tokenizer.encode("the effect of vitamin D on bone density ".repeat(12)).slice(0, 100);
    expect(long).toHaveLength(100);
    const int8 = await session(MODEL, "disabled");
    const { inputIds, attentionMask, dims } = toInputs([long], 128);
    const want = (await int8.run({ input_ids: new ort.Tensor("int64", inputIds, dims), attention_mask: new ort.Tensor("int64", attentionMask, dims) })).embedding.data as Float32Array;
    expect(dot(wide.encode(long), want)).toBeGreaterThanOrEqual(0.998);
    await int8.release();
    expect(() => model.encode([5, 8002])).toThrow(FormatError);
    expect(() => model.encode([-1])).toThrow(/outside its 8002 embeddings/);
    expect(() => queryModelOf(bytes, module, 129)).toThrow(RangeError);
    expect(() => queryModelOf(bytes, module, 0)).toThrow(RangeError);
  });

  it("takes no other graph, and says why: onnxruntime runs it", () => {
    const module = loadKernelsModule();
    const notOptimized = queryModelOf(new Uint8Array(readFileSync(path.join(root, "models/use-lite/query.int8.onnx"))), module, MAX);
    expect(notOptimized).toEqual({ reason: expect.stringMatching(/not the optimized int8 query tower/) });
    const tiny = queryModelOf(new Uint8Array(readFileSync(path.join(root, "test/fixtures/tiny-encoder.onnx"))), module, MAX);
    expect(tiny).toEqual({ reason: expect.any(String) });
    const garbage = queryModelOf(new TextEncoder().encode("not an onnx model"), module, MAX);
    expect(garbage).toEqual({ reason: expect.stringMatching(/^not read as an ONNX model/) });
    expect(queryModelOf(new Uint8Array(readFileSync(MODEL)), undefined, MAX)).toEqual({ reason: "no wasm SIMD kernels" });
  });

  it("refuses the shipped graph with a weight zero point that is not zero", () => {
    const bytes = new Uint8Array(readFileSync(MODEL));
    const module = loadKernelsModule();
    const { initializers } = readOnnx(bytes);
    const zeroPoint = initializers.get("onnx::MatMul_255_zero_point")!; // layer 0's qkv weights: 768 int8 zeros
    expect(zeroPoint.bytes.every((z) => z === 0)).toBe(true);
    const shifted = bytes.slice();
    shifted.fill(1, zeroPoint.bytes.byteOffset, zeroPoint.bytes.byteOffset + 768); // the kernels assume symmetric weights
    expect(queryModelOf(shifted, module, MAX)).toEqual({ reason: expect.stringMatching(/zero points/) });
    const weights = initializers.get("onnx::MatMul_255_quantized")!;
    expect(weights.dims).toEqual([256, 768]);
  });

  it("refuses the shipped graph with another head count or another layer norm epsilon", () => {
    const bytes = new Uint8Array(readFileSync(MODEL));
    const module = loadKernelsModule();
    const heads = readOnnx(bytes).initializers.get("/enc/layers.1/attn/Constant_5_output_0")!; // int64 [4]
    expect(new BigInt64Array(heads.bytes.slice().buffer)[0]).toBe(4n);
    const eight = bytes.slice();
    new DataView(eight.buffer).setBigInt64(heads.bytes.byteOffset, 8n, true);
    expect(queryModelOf(eight, module, MAX)).toEqual({ reason: expect.stringMatching(/constants differ/) });
    // the first epsilon attribute (field 2, fixed32: key 0x15) made 1e-5
    const eps = new Uint8Array(new Float32Array([1e-6]).buffer);
    const at = bytes.findIndex((_, i) => bytes[i] === 0x15 && eps.every((x, j) => bytes[i + 1 + j] === x));
    expect(at).toBeGreaterThan(0);
    const other = bytes.slice();
    other.set(new Uint8Array(new Float32Array([1e-5]).buffer), at + 1);
    expect(queryModelOf(other, module, MAX)).toEqual({ reason: expect.stringMatching(/epsilon/) });
  });
});
