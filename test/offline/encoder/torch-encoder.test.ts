/**
 * The PyTorch passage encoder (`i3 build --encoder torch`: offline/encoder/torch-encoder.ts and
 * offline/train/encode_server.py, the weights read from passage.onnx) against onnxruntime-node, on the CPU: the
 * vectors agree within 1e-4 cosine, and a build made with it has the same format and the same values within the
 * int8 rounding. It needs python3 with torch (CI installs it); without them it is skipped with a warning.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBuildCommand } from "../../../offline/build/command.ts";
import { openBuildDir } from "../../../offline/build/build-dir.ts";
import { createNodeEncoder } from "../../../offline/encoder/node-encoder.ts";
import { createTorchEncoder } from "../../../offline/encoder/torch-encoder.ts";
import { decodeShard } from "../../../src/format/index.ts";
import { createTokenizer } from "../../../src/text/tokenizer/index.ts";
import { passageText } from "../../../src/text/passages.ts";

const root = join(import.meta.dirname, "../../..");
const MODEL = join(root, "models", "i3-scifact");
const CORPUS = join(root, "test", "fixtures", "scifact-mini", "corpus.jsonl");
const python = process.env.I3_PYTHON || "python3";
const hasTorch = spawnSync(python, ["-c", "import torch, onnx"], { stdio: "ignore" }).status === 0;
if (!hasTorch) console.warn(`torch-encoder tests skipped: ${python} cannot import torch and onnx (pip install -r offline/train/requirements.txt)`);

const cosine = (a: Float32Array, b: Float32Array, i: number, dim: number) => {
  let d = 0;
  for (let k = 0; k < dim; k++) d += a[i * dim + k] * b[i * dim + k];
  return d;
};

describe.skipIf(!hasTorch)("PyTorch passage encoder", () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it("gives onnxruntime's vectors (cosine >= 1 - 1e-4) for real passages of every length", async () => {
    const tokenizer = createTokenizer(JSON.parse(readFileSync(join(MODEL, "vocab.json"), "utf8")));
    const docs = readFileSync(CORPUS, "utf8").split("\n").filter(Boolean).slice(0, 48).map((l) => JSON.parse(l));
    const batch = docs.map((d) => tokenizer.encode(passageText({ title: d.title, text: d.text })).slice(0, 128));
    batch.push([5]); // one token
    const torch = await createTorchEncoder({ modelDir: MODEL, device: "cpu", maxLen: 128, threads: 1 });
    const onnx = await createNodeEncoder({ modelPath: join(MODEL, "passage.onnx"), device: "cpu", maxLen: 128, log: () => {} });
    try {
      expect(torch.dim).toBe(onnx.dim);
      const a = await torch.encode(batch);
      const b = await onnx.encode(batch);
      expect(a.length).toBe(batch.length * torch.dim);
      let worst = 1;
      for (let i = 0; i < batch.length; i++) worst = Math.min(worst, cosine(a, b, i, torch.dim));
      expect(worst).toBeGreaterThan(1 - 1e-4);
      // Concurrent calls are answered in order, each its own batch (padded to its own length: equal within rounding).
      const [x, y] = await Promise.all([torch.encode(batch.slice(0, 3)), torch.encode(batch.slice(3, 4))]);
      expect(x.length).toBe(3 * torch.dim);
      expect(cosine(x, a, 2, torch.dim)).toBeGreaterThan(1 - 1e-6);
      expect(cosine(y, a.subarray(3 * torch.dim), 0, torch.dim)).toBeGreaterThan(1 - 1e-6);
    } finally {
      await torch.close();
      await onnx.close();
    }
  });

  it("builds the same index as onnxruntime: same objects and ids, int8 vectors within one step", async () => {
    const base = await mkdtemp(join(tmpdir(), "i3-torch-build-"));
    dirs.push(base);
    const build = async (encoder: string) => {
      const out = join(base, encoder);
      const err: string[] = [];
      const code = await runBuildCommand(["--corpus", CORPUS, "--model", MODEL, "--out", out, "--no-split", "--device", "cpu", "--encoder", encoder, "--limit", "120", "--partitions", "1", "--threads", "1"], { out: () => {}, err: (l) => err.push(l) });
      expect(code, err.join("\n")).toBe(0);
      return openBuildDir(out);
    };
    const onnx = await build("onnx");
    const torch = await build("torch");
    const shards = (b: typeof onnx) => b.manifest.partitions.flatMap((p) => p.shards);
    expect(shards(torch).map((s) => [s.count, s.bytes])).toEqual(shards(onnx).map((s) => [s.count, s.bytes]));
    expect(torch.manifest.docs).toEqual(onnx.manifest.docs); // documents do not depend on the encoder
    for (const [i, ref] of shards(onnx).entries()) {
      const a = decodeShard(await onnx.readObject(ref));
      const b = decodeShard(await torch.readObject(shards(torch)[i]));
      expect(Array.from(b.ordinals)).toEqual(Array.from(a.ordinals));
      let worst = 0;
      for (let j = 0; j < a.vectors.length; j++) worst = Math.max(worst, Math.abs(a.vectors[j] - b.vectors[j]));
      expect(worst).toBeLessThanOrEqual(1);
      for (let j = 0; j < a.scales.length; j++) expect(b.scales[j]).toBeCloseTo(a.scales[j], 5);
    }
  });

  it("fails the build with the interpreter's error when PyTorch cannot start", async () => {
    const base = await mkdtemp(join(tmpdir(), "i3-torch-bad-"));
    dirs.push(base);
    const err: string[] = [];
    const saved = process.env.I3_PYTHON;
    process.env.I3_PYTHON = join(base, "no-such-python");
    try {
      const code = await runBuildCommand(["--corpus", CORPUS, "--model", MODEL, "--out", join(base, "x"), "--no-split", "--encoder", "torch", "--limit", "10"], { out: () => {}, err: (l) => err.push(l) });
      expect(code).toBe(1);
      expect(err.join("\n")).toMatch(/PyTorch encoder .* could not start/);
    } finally {
      if (saved === undefined) delete process.env.I3_PYTHON;
      else process.env.I3_PYTHON = saved;
    }
  });
});
