/**
 * The passage encoder of `i3 build`: onnxruntime-node (CPU, or CUDA where its CUDA provider is installed), or
 * PyTorch (offline/encoder/torch-encoder.ts) on a GPU machine that has PyTorch with CUDA and no onnxruntime CUDA
 * provider (onnxruntime-node's cannot be installed offline). Both give the same vectors within float rounding.
 *
 *  - backend "onnx": onnxruntime-node on `device` (node-encoder.ts);
 *  - backend "torch": PyTorch on `device` ("auto": CUDA when PyTorch sees one, else CPU);
 *  - backend "auto" (default): CPU => onnxruntime; CUDA or auto => onnxruntime's CUDA provider when installed, else
 *    PyTorch when this machine has an NVIDIA device, else (auto) onnxruntime on the CPU, or (cuda) an error.
 */
import { existsSync } from "node:fs";
import { createNodeEncoder, cudaProviderInstalled, type Device, type NodeEncoder } from "./node-encoder.ts";
import { createTorchEncoder } from "./torch-encoder.ts";

export type EncoderBackend = "auto" | "onnx" | "torch";

export interface PassageEncoderOptions {
  /** The model directory (PyTorch reads its model.json and passage.onnx). */
  modelDir: string;
  /** The passage model file (onnxruntime). */
  passagePath: string;
  device: Device;
  backend?: EncoderBackend;
  maxLen: number;
  threads?: number;
  log: (msg: string) => void;
}

/** Whether this machine shows an NVIDIA device (no CUDA library is loaded to tell). */
const nvidiaDevice = () => existsSync("/dev/nvidiactl") || existsSync("/dev/nvidia0");

/**
 * Opens the passage encoder the options ask for (see the module comment for the rules).
 *
 * @example
 * const enc = await openPassageEncoder({ modelDir, passagePath, device: "cuda", maxLen: 128, log: console.error });
 */
export async function openPassageEncoder(o: PassageEncoderOptions): Promise<NodeEncoder> {
  const onnx = (device: Device) => createNodeEncoder({ modelPath: o.passagePath, device, maxLen: o.maxLen, intraOpThreads: o.threads, log: o.log });
  const torch = (device: string) => createTorchEncoder({ modelDir: o.modelDir, device, maxLen: o.maxLen, threads: o.threads, log: o.log });
  const backend = o.backend ?? "auto";
  if (backend === "onnx") return onnx(o.device);
  if (backend === "torch") return torch(o.device);
  if (o.device === "cpu" || cudaProviderInstalled().installed || !nvidiaDevice()) return onnx(o.device);
  try {
    return await torch("cuda");
  } catch (e) {
    const why = (e as Error).message;
    if (o.device === "cuda") throw new Error(`no CUDA encoder: onnxruntime-node has no CUDA provider, and PyTorch failed: ${why}`);
    o.log(`note: PyTorch on CUDA unavailable (${why.split("\n")[0]}); using onnxruntime on the CPU`);
    return onnx("cpu");
  }
}
