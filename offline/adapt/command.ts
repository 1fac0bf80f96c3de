/**
 * `i3 adapt`: fine-tune a shipped I^3 model on one corpus alone (no queries, no qrels) and write a new model dir that
 * `i3 build --model` takes. Three steps, in a temporary work folder: the Python module cuts the pseudo-queries
 * (`python -m offline.train.adapt --pseudo-only`), the product's BM25 (offline/eval/bm25-run.ts) ranks the corpus for
 * them, and the Python module mines dense negatives, trains and exports (offline/train/adapt.py has the recipe).
 * The interpreter is `$I3_PYTHON`, else `python3` (as offline/encoder/torch-encoder.ts), run from the repository root
 * with it on PYTHONPATH; its progress lines are streamed to stderr.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { choiceFlag, intFlag, parseFlags, required, runCommand, STDIO, UsageError, type CommandIO } from "../command.ts";
import { resolveCorpusPath } from "../build/corpus.ts";
import { bm25Run } from "../eval/bm25-run.ts";
import { writeRun } from "../eval/trec.ts";

const root = path.resolve(import.meta.dirname, "../..");
const REQUIREMENTS = "pip install -r offline/train/requirements.txt";
/** BM25 candidates per pseudo-query (the recipe's hard_topk is 30; one more for the source passage). */
const BM25_K = 31;

export const ADAPT_USAGE = `usage: i3 adapt --corpus <corpus.jsonl | BEIR dir> --model <I^3 model dir> --out <new model dir> [options]

Fine-tunes the model's two towers on the corpus alone: pseudo-queries cut from its passages, positives the passages
they were cut from, hard negatives from BM25 and the model itself; no queries or labels are read. Writes a complete
model dir (model.json, query.onnx, passage.onnx, query.int8.onnx, vocab.json) for \`i3 build --model\`. Needs PyTorch
(${REQUIREMENTS}); 5-12 minutes on 2 CPU cores for the corpora measured in docs/RESULTS.md (corpus
adaptation), which also says when it helps: dense search far from the base model's domain, not hybrid.

options:
  --steps <n>         training steps of 32 pseudo-queries (default 800)
  --device <d>        auto | cpu | cuda (default auto)
  --seed <n>          pseudo-queries and sampling (default 0)
  --threads <n>       PyTorch CPU threads (default 2)
  --verbose           stack traces on errors`;

/**
 * `i3 adapt ...` (argv: the words after "adapt").
 *
 * @example
 * process.exitCode = await runAdaptCommand(["--corpus", "data/cranfield", "--model", "models/i3-scifact", "--out", "models/i3-cranfield"]);
 */
export async function runAdaptCommand(argv: string[], io: CommandIO = STDIO): Promise<number> {
  return runCommand("adapt", ADAPT_USAGE, argv, io, async () => {
    const { values: v, positionals } = parseFlags(argv, {
      corpus: { type: "string" }, model: { type: "string" }, out: { type: "string" }, steps: { type: "string" },
      device: { type: "string" }, seed: { type: "string" }, threads: { type: "string" },
      verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
    });
    if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const corpus = await resolveCorpusPath(required("corpus", v.corpus));
    const model = required("model", v.model);
    const out = required("out", v.out);
    const steps = intFlag("steps", v.steps);
    const seed = intFlag("seed", v.seed, 0) ?? 0;
    const threads = intFlag("threads", v.threads) ?? 2;
    const device = choiceFlag("device", v.device, ["auto", "cpu", "cuda"] as const) ?? "auto";
    await checkModel(model);
    if (path.resolve(out) === path.resolve(model)) throw new UsageError("--out must not be the base model's folder");
    await checkPython();
    const work = await mkdtemp(path.join(tmpdir(), "i3-adapt-"));
    try {
      const pseudo = path.join(work, "pseudo-queries.jsonl");
      const common = ["--corpus", path.resolve(corpus), "--model", path.resolve(model), "--out", path.resolve(out),
        "--seed", String(seed), "--threads", String(threads), "--device", device, "--pseudo", pseudo,
        ...(steps ? ["--steps", String(steps)] : [])];
      await runPython([...common, "--pseudo-only"], io);
      const queries = (await readFile(pseudo, "utf8")).split("\n").filter((l) => l.trim()).map((l) => {
        const q = JSON.parse(l) as { _id: string; text: string };
        return { id: q._id, text: q.text };
      });
      const bm25 = path.join(work, "bm25.trec");
      const { run } = await bm25Run(corpus, queries, { k: BM25_K, k1: 0.9, b: 0.4, log: io.err });
      writeRun(bm25, run, "bm25");
      await runPython([...common, "--bm25-run", bm25], io);
      io.out(`adapted model written to ${out}; build with: npm run i3 -- build --corpus ${v.corpus} --model ${out} --out <dir>`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

/** The base model dir must hold an I^3 model.json (the architecture the Python side adapts). */
async function checkModel(dir: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path.join(dir, "model.json"), "utf8");
  } catch {
    throw new Error(`model ${dir}: no model.json (a model directory, e.g. models/i3-scifact)`);
  }
  let meta: { architecture?: unknown };
  try {
    meta = JSON.parse(text);
  } catch (e) {
    throw new Error(`model ${dir}: model.json is not JSON (${(e as Error).message})`);
  }
  if (meta.architecture !== "i3") {
    throw new Error(`model ${dir}: architecture ${JSON.stringify(meta.architecture ?? null)}; adaptation needs an I^3 model (model.json "architecture": "i3")`);
  }
}

function python(): string {
  return process.env.I3_PYTHON || "python3";
}

/** Spawns the interpreter; resolves with its exit code, stdout/stderr lines go to `line` (the last 4000 chars kept). */
function spawnPython(args: string[], line: (s: string) => void): Promise<{ code: number | null; tail: string; error?: Error }> {
  return new Promise((resolve) => {
    const child = spawn(python(), args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PYTHONPATH: root } });
    let tail = "";
    let carry = "";
    const onData = (c: Buffer) => {
      tail = (tail + c.toString()).slice(-4000);
      const parts = (carry + c.toString()).split("\n");
      carry = parts.pop() ?? "";
      parts.forEach((p) => p.trim() && line(p));
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (error) => resolve({ code: null, tail, error }));
    child.on("close", (code) => {
      if (carry.trim()) line(carry);
      resolve({ code, tail });
    });
  });
}

/** Python with torch, onnx and onnxruntime, or an error that says how to get them. */
async function checkPython(): Promise<void> {
  const r = await spawnPython(["-c", "import torch, onnx, onnxruntime"], () => {});
  if (r.error) throw new Error(`cannot run ${python()} (${r.error.message}); set I3_PYTHON to a Python with PyTorch (${REQUIREMENTS})`);
  if (r.code !== 0) {
    const why = r.tail.trim().split("\n").pop() ?? "";
    throw new Error(`${python()} cannot import PyTorch/onnx/onnxruntime (${why}); install them: ${REQUIREMENTS}`);
  }
}

async function runPython(args: string[], io: CommandIO): Promise<void> {
  const full = ["-m", "offline.train.adapt", ...args];
  const r = await spawnPython(full, io.err);
  if (r.error) throw new Error(`cannot run ${python()} (${r.error.message})`);
  if (r.code !== 0) {
    const last = r.tail.trim().split("\n").pop() ?? "";
    throw new Error(`${python()} -m offline.train.adapt failed (exit ${r.code}): ${last}`);
  }
}
