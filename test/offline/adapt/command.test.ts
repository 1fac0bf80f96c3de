/**
 * `i3 adapt` (offline/adapt/command.ts): its errors, and (with python3 + torch, as CI has) the whole run on a tiny
 * corpus: pseudo-queries, the product's BM25 over them, 2 training steps, a model dir that `i3 build` takes.
 */
import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAdaptCommand } from "../../../offline/adapt/command.ts";
import { runBuildCommand } from "../../../offline/build/command.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const MODEL = path.join(ROOT, "models", "i3-scifact");
const CORPUS = path.join(ROOT, "test", "fixtures", "scifact-mini", "corpus.jsonl");
const python = process.env.I3_PYTHON || "python3";
const hasTorch = spawnSync(python, ["-c", "import torch, onnx, onnxruntime"], { stdio: "ignore" }).status === 0;
if (!hasTorch) console.warn(`i3 adapt end-to-end test skipped: ${python} cannot import torch (pip install -r offline/train/requirements.txt)`);
let tmp: string;

async function adapt(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const saved = process.env.I3_PYTHON;
  Object.assign(process.env, env);
  try {
    const code = await runAdaptCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    if (saved === undefined) delete process.env.I3_PYTHON;
    else process.env.I3_PYTHON = saved;
  }
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-adapt-test-"));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("i3 adapt errors", () => {
  const base = () => ["--corpus", CORPUS, "--model", MODEL, "--out", path.join(tmp, "never")];

  it("a missing flag or a bad value is a usage error (exit 2)", async () => {
    const r = await adapt(["--corpus", CORPUS, "--model", MODEL]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--out is required");
    expect((await adapt([...base(), "--steps", "0"])).err).toContain("--steps must be an integer >= 1");
    expect((await adapt([...base(), "--device", "tpu"])).code).toBe(2);
  });

  it("a missing corpus exits 1 naming it", async () => {
    const r = await adapt(["--corpus", path.join(tmp, "nope.jsonl"), "--model", MODEL, "--out", path.join(tmp, "o")]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/i3 adapt: corpus .*nope\.jsonl: not found/);
  });

  it("a folder without model.json, or a model that is not I^3, exits 1", async () => {
    const none = await adapt(["--corpus", CORPUS, "--model", tmp, "--out", path.join(tmp, "o")]);
    expect(none.code).toBe(1);
    expect(none.err).toContain("no model.json");
    const useLite = await adapt(["--corpus", CORPUS, "--model", path.join(ROOT, "models", "use-lite"), "--out", path.join(tmp, "o")]);
    expect(useLite.code).toBe(1);
    expect(useLite.err).toContain('adaptation needs an I^3 model (model.json "architecture": "i3")');
  });

  it("--out may not be the base model", async () => {
    const r = await adapt(["--corpus", CORPUS, "--model", MODEL, "--out", MODEL]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--out must not be the base model's folder");
  });

  it("no Python, or a Python without PyTorch, exits 1 naming the requirements file", async () => {
    const missing = await adapt(base(), { I3_PYTHON: path.join(tmp, "no-such-python") });
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("pip install -r offline/train/requirements.txt");
    // a real interpreter without its site-packages (-S): torch cannot be imported
    const bare = path.join(tmp, "python-without-site");
    await writeFile(bare, `#!/bin/sh\nexec ${python} -S "$@"\n`);
    await chmod(bare, 0o755);
    const noTorch = await adapt(base(), { I3_PYTHON: bare });
    expect(noTorch.code).toBe(1);
    expect(noTorch.err).toMatch(/cannot import PyTorch\/onnx\/onnxruntime \(.*No module named .*\); install them: pip install -r offline\/train\/requirements\.txt/);
  });
});

describe.skipIf(!hasTorch)("i3 adapt end to end", () => {
  it("writes a model dir that i3 build takes, with moved weights", { timeout: 300_000 }, async () => {
    const out = path.join(tmp, "adapted");
    const r = await adapt(["--corpus", CORPUS, "--model", MODEL, "--out", out, "--steps", "2", "--device", "cpu"]);
    expect(r.err).not.toContain("Traceback");
    expect(r.code).toBe(0);
    expect(r.err).toContain('"bm25": true'); // the BM25 run reached the training step
    expect(r.err).toMatch(/"event": "done"/);
    const meta = JSON.parse(await readFile(path.join(out, "model.json"), "utf8"));
    const baseMeta = JSON.parse(await readFile(path.join(MODEL, "model.json"), "utf8"));
    expect(meta.architecture).toBe("i3");
    expect(meta.recipe.adapt).toMatchObject({ steps: 2, negatives: "bm25+dense", corpus: "scifact-mini" });
    expect(meta.sha256["query.onnx"]).not.toBe(baseMeta.sha256["query.onnx"]);
    expect(meta.sha256["passage.onnx"]).not.toBe(baseMeta.sha256["passage.onnx"]);
    const quiet = { out: () => {}, err: () => {} };
    const index = path.join(tmp, "index");
    expect(await runBuildCommand(["--corpus", CORPUS, "--model", out, "--out", index, "--device", "cpu"], quiet)).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(index, "manifest.json"), "utf8"));
    expect(manifest.model.name).toBe("adapted");
  });
});
