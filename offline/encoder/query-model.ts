/**
 * The query model offline, run as the worker runs it: on the kernels (src/search/query-model.ts) where they take the
 * graph (the shipped int8 query tower), else in onnxruntime-node. One query at a time either way on the kernels (the
 * worker encodes one query a request, and the int8 graph quantizes its activations over the whole batch, so a batch's
 * rows would depend on each other).
 */
import { readFile } from "node:fs/promises";
import { queryModelOf } from "../../src/search/query-model.ts";
import { kernelsModule } from "../vectors/kernels.ts";
import { createNodeEncoder, type NodeEncoder } from "./node-encoder.ts";

export interface QueryModelEncoderOptions {
  modelPath: string;
  /** Query window in tokens: ids past it are dropped. */
  maxLen: number;
  /** onnxruntime-node's intra-op threads, where it runs the model. */
  intraOpThreads?: number;
  log?: (m: string) => void;
}

/** A NodeEncoder over the query model, saying which engine runs it. */
export async function createQueryModelEncoder(o: QueryModelEncoderOptions): Promise<NodeEncoder & { engine: "kernels" | "onnxruntime" }> {
  const log = o.log ?? (() => {});
  const model = queryModelOf(new Uint8Array(await readFile(o.modelPath)), kernelsModule(log), o.maxLen);
  if ("reason" in model) {
    log(`query model ${o.modelPath}: onnxruntime-node (${model.reason})`);
    const enc = await createNodeEncoder({ modelPath: o.modelPath, device: "cpu", maxLen: o.maxLen, intraOpThreads: o.intraOpThreads, log });
    return Object.assign(enc, { engine: "onnxruntime" as const });
  }
  return {
    engine: "kernels",
    dim: model.dim,
    provider: "cpu",
    async encode(batch) {
      const out = new Float32Array(batch.length * model.dim);
      batch.forEach((ids, i) => out.set(model.encode(ids.slice(0, o.maxLen)), i * model.dim));
      return out;
    },
    async close() {},
  };
}
