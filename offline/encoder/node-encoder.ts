/**
 * onnxruntime-node encoder session: token id batches in, embeddings out.
 *
 * Model contract (docs/ARCHITECTURE.md): inputs `input_ids` / `attention_mask` int64 [B, L], output
 * `embedding` float32 [B, D]. `device`:
 *  - "auto": the CUDA execution provider if onnxruntime-node's CUDA provider is installed and loads
 *    (libonnxruntime_providers_cuda.so, installed with `--onnxruntime-node-install=cuda12`), else CPU with a
 *    note on stderr;
 *  - "cpu": CPU only;
 *  - "cuda": CUDA, or an error if it cannot be used.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { toInputs } from "../../src/text/tensors.ts";

export type Device = "auto" | "cpu" | "cuda";

export interface NodeEncoderOptions {
  modelPath: string;
  device?: Device;
  /** intra-op threads for the CPU provider (default: onnxruntime's choice, all cores) */
  intraOpThreads?: number;
  /** truncation window in tokens (default 128, the contract's maximum) */
  maxLen?: number;
  /** print notes (fallbacks) here; default stderr */
  log?: (msg: string) => void;
}

export interface NodeEncoder {
  /** row-major [B * dim] float32 embeddings */
  encode(batch: number[][]): Promise<Float32Array>;
  readonly dim: number;
  readonly provider: "cuda" | "cpu";
  close(): Promise<void>;
}

/**
 * Where onnxruntime-node keeps its native libraries, and whether the CUDA provider library is among them.
 * Checked before trying CUDA so that a CPU-only install gives one clear note instead of onnxruntime's own
 * "Failed to load library" errors on stderr.
 */
export function cudaProviderInstalled(): { installed: boolean; path: string } {
  let dir: string;
  try {
    const pkg = createRequire(import.meta.url).resolve("onnxruntime-node/package.json");
    dir = join(dirname(pkg), "bin", "napi-v6", process.platform, process.arch);
  } catch {
    return { installed: false, path: "onnxruntime-node (not resolvable)" };
  }
  const lib = process.platform === "win32" ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";
  const path = join(dir, lib);
  return { installed: existsSync(path), path };
}

async function openSession(modelPath: string, provider: "cuda" | "cpu", intraOpThreads?: number) {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    graphOptimizationLevel: "all",
  };
  if (intraOpThreads !== undefined) opts.intraOpNumThreads = intraOpThreads;
  return ort.InferenceSession.create(modelPath, opts);
}

export async function createNodeEncoder(options: NodeEncoderOptions): Promise<NodeEncoder> {
  const { modelPath, intraOpThreads } = options;
  const device = options.device ?? "auto";
  const maxLen = options.maxLen ?? 128;
  const log = options.log ?? ((m: string) => process.stderr.write(m + "\n"));
  if (!["auto", "cpu", "cuda"].includes(device)) throw new Error(`unknown device "${device}" (auto | cpu | cuda)`);

  let session: ort.InferenceSession;
  let provider: "cuda" | "cpu";
  if (device === "cpu") {
    session = await openSession(modelPath, "cpu", intraOpThreads);
    provider = "cpu";
  } else {
    const cuda = cudaProviderInstalled();
    try {
      if (!cuda.installed) throw new Error(`onnxruntime-node's CUDA provider is not installed (no ${cuda.path})`);
      session = await openSession(modelPath, "cuda", intraOpThreads);
      provider = "cuda";
    } catch (e) {
      const why = (e as Error).message.split("\n")[0];
      if (device === "cuda") {
        throw new Error(
          `CUDA execution provider unavailable for ${modelPath}: ${why}\n` +
            `(onnxruntime-node needs its CUDA 12 provider: reinstall with --onnxruntime-node-install=cuda12, and a CUDA 12 + cuDNN 9 runtime)`,
        );
      }
      log(`note: CUDA execution provider unavailable (${why}); using CPU`);
      session = await openSession(modelPath, "cpu", intraOpThreads);
      provider = "cpu";
    }
  }

  for (const name of ["input_ids", "attention_mask"]) {
    if (!session.inputNames.includes(name)) {
      throw new Error(`${modelPath}: model has no input "${name}" (inputs: ${session.inputNames.join(", ")})`);
    }
  }
  const outName = session.outputNames.includes("embedding") ? "embedding" : session.outputNames[0];
  if (outName !== "embedding") log(`note: ${modelPath} has no "embedding" output; using "${outName}"`);

  const run = async (batch: number[][]): Promise<{ data: Float32Array; dim: number }> => {
    const { inputIds, attentionMask, dims } = toInputs(batch, maxLen);
    const feeds = {
      input_ids: new ort.Tensor("int64", inputIds, dims),
      attention_mask: new ort.Tensor("int64", attentionMask, dims),
    };
    const out = await session.run(feeds);
    const t = out[outName];
    if (t.type !== "float32") throw new Error(`${modelPath}: output "${outName}" is ${t.type}, expected float32`);
    if (t.dims.length !== 2 || t.dims[0] !== batch.length) {
      throw new Error(`${modelPath}: output "${outName}" has shape [${t.dims}], expected [${batch.length}, D]`);
    }
    const data = t.data as Float32Array;
    for (const v of Object.values(out)) if (v !== t) v.dispose?.();
    return { data, dim: t.dims[1] };
  };

  // D from the model's output metadata when static, else from one probe batch.
  let dim = 0;
  const meta = (session as unknown as { outputMetadata?: Array<{ name: string; shape?: Array<number | string> }> })
    .outputMetadata?.find((m) => m.name === outName);
  const last = meta?.shape?.[meta.shape.length - 1];
  if (typeof last === "number" && last > 0) dim = last;
  else dim = (await run([[0]])).dim;

  return {
    dim,
    provider,
    async encode(batch: number[][]): Promise<Float32Array> {
      if (batch.length === 0) return new Float32Array(0);
      const r = await run(batch);
      if (r.dim !== dim) throw new Error(`${modelPath}: embedding dim ${r.dim}, expected ${dim}`);
      return r.data;
    },
    async close() {
      await session.release();
    },
  };
}
