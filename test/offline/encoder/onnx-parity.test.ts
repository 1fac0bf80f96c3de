/**
 * models/use-lite ONNX (onnxruntime-node) vs the TF.js oracle vectors in test/fixtures/use-lite-vectors.json
 * (regenerate with `npx tsx scripts/fixtures/gen-vectors.ts`, re-export with
 * `python -m offline.train.export use-lite`). The models ship in the repo: a missing one fails these tests.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const MODEL_DIR = join(process.cwd(), "models", "use-lite");
const MAX_TOKENS = 128;
const TOL = 1e-5;

interface Row { text: string; ids: number[]; vector: number[] }
interface Fixture { rows: Row[]; batches: Array<{ rows: number[]; vectors: number[][] }> }
const fixture: Fixture = JSON.parse(readFileSync(join(process.cwd(), "test", "fixtures", "use-lite-vectors.json"), "utf8"));

/** Right-padded int64 [B, L] tensors; ids truncated to the first 128; L >= 1 (and >= minLen). */
function feeds(seqs: number[][], minLen = 1, padId = 0n): Record<string, ort.Tensor> {
  const rows = seqs.map((s) => s.slice(0, MAX_TOKENS));
  const L = Math.max(minLen, 1, ...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * L).fill(padId);
  const mask = new BigInt64Array(rows.length * L);
  rows.forEach((r, i) => r.forEach((id, j) => { ids[i * L + j] = BigInt(id); mask[i * L + j] = 1n; }));
  return {
    input_ids: new ort.Tensor("int64", ids, [rows.length, L]),
    attention_mask: new ort.Tensor("int64", mask, [rows.length, L]),
  };
}

async function embed(s: ort.InferenceSession, seqs: number[][], minLen = 1, padId = 0n): Promise<Float32Array[]> {
  const out = (await s.run(feeds(seqs, minLen, padId))).embedding;
  expect(out.type).toBe("float32");
  expect(out.dims).toEqual([seqs.length, 512]);
  const data = out.data as Float32Array;
  return seqs.map((_s, i) => data.subarray(i * 512, (i + 1) * 512));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
};

describe("use-lite encoder.onnx vs TF.js (onnxruntime-node)", () => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(join(MODEL_DIR, "encoder.onnx"), { intraOpNumThreads: 1 });
  });
  afterAll(async () => { await session?.release(); });

  it("has the contract's inputs and output", () => {
    expect(session.inputNames).toEqual(["input_ids", "attention_mask"]);
    expect(session.outputNames).toEqual(["embedding"]);
    const sidecar = JSON.parse(readFileSync(join(MODEL_DIR, "model.json"), "utf8"));
    expect(sidecar).toMatchObject({ name: "use-lite", dim: 512, maxQueryTokens: 128, maxPassageTokens: 128, normalized: true });
  });

  it("matches every fixture row (batch of one, ids truncated to 128)", async () => {
    expect(fixture.rows.length).toBeGreaterThanOrEqual(60);
    let worst = 0;
    for (const row of fixture.rows) {
      const [v] = await embed(session, [row.ids]);
      const d = maxAbsDiff(v, row.vector);
      if (d > TOL) throw new Error(`${JSON.stringify(row.text.slice(0, 40))}: max abs diff ${d}`);
      worst = Math.max(worst, d);
    }
    console.log(`ORT-node vs TF.js, ${fixture.rows.length} rows: max abs diff ${worst.toExponential(3)}`);
    expect(worst).toBeLessThanOrEqual(TOL);
  });

  it("matches the TF.js padded multi-row batches", async () => {
    expect(fixture.batches.length).toBeGreaterThan(0);
    for (const b of fixture.batches) {
      const got = await embed(session, b.rows.map((i) => fixture.rows[i].ids));
      got.forEach((v, k) => expect(maxAbsDiff(v, b.vectors[k])).toBeLessThanOrEqual(TOL));
    }
  });

  it("gives the same vectors when the batch is padded to 128 with junk ids", async () => {
    const rows = [...fixture.rows.slice(0, 10), fixture.rows.find((r) => r.text === "")!];
    const got = await embed(session, rows.map((r) => r.ids), MAX_TOKENS, 4242n);
    got.forEach((v, k) => expect(maxAbsDiff(v, rows[k].vector)).toBeLessThanOrEqual(TOL));
  });
});

const INT8 = join(MODEL_DIR, "query.int8.onnx");
describe("use-lite query.int8.onnx (edge query model)", () => {
  it("has cosine >= 0.995 to the TF.js vectors on every fixture row", async () => {
    const s = await ort.InferenceSession.create(INT8, { intraOpNumThreads: 1 });
    let min = 1;
    for (const row of fixture.rows) {
      const [v] = await embed(s, [row.ids]);
      min = Math.min(min, cosine(v, row.vector));
    }
    await s.release();
    console.log(`int8 vs TF.js: min cosine ${min.toFixed(6)}`);
    expect(min).toBeGreaterThanOrEqual(0.995);
  });
});

// The worker runs the query model in onnxruntime-web (wasm): make sure the graphs use no op it lacks.
describe("use-lite ONNX graphs in onnxruntime-web (wasm, in Node)", () => {
  it("fp32 encoder.onnx and query.int8.onnx run and agree with TF.js", async () => {
    const ortWeb = await import("onnxruntime-web");
    ortWeb.env.wasm.numThreads = 1;
    const rows = [...fixture.rows.slice(0, 6), fixture.rows.find((r) => r.ids.length > MAX_TOKENS)!];
    expect.assertions(2 * rows.length);
    for (const [file, check] of [["encoder.onnx", "diff"], ["query.int8.onnx", "cos"]] as const) {
      const s = await ortWeb.InferenceSession.create(readFileSync(join(MODEL_DIR, file)));
      for (const row of rows) {
        const f = feeds([row.ids]);
        const out = await s.run({
          input_ids: new ortWeb.Tensor("int64", f.input_ids.data as BigInt64Array, f.input_ids.dims),
          attention_mask: new ortWeb.Tensor("int64", f.attention_mask.data as BigInt64Array, f.attention_mask.dims),
        });
        const v = out.embedding.data as Float32Array;
        if (check === "diff") expect(maxAbsDiff(v, row.vector)).toBeLessThanOrEqual(TOL);
        else expect(cosine(v, row.vector)).toBeGreaterThanOrEqual(0.995);
      }
      await s.release();
    }
  });
});
