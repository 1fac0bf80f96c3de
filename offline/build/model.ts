// A model directory (`models/<name>/`): the model.json sidecar, its ONNX files and vocab, checked against the
// sidecar's sha256 map when it has one.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { BuildError } from "./errors.ts";

/** The sidecar fields the build uses (docs/ARCHITECTURE.md). */
export interface ModelSidecar {
  name: string;
  dim: number;
  maxQueryTokens: number;
  maxPassageTokens: number;
  normalized: boolean;
  query: string;
  passage: string;
  vocab: string;
  /** Quantized query model for the worker: shipped as the index's query model when present. */
  edgeQuery?: string;
  sha256?: Record<string, string>;
  /**
   * Hybrid fusion defaults tuned for this model (never on test queries); `i3 build` writes them into the index.
   * A weight without a normalization was tuned for "minmax" (model files before manifest 1.2).
   */
  fusion?: { mode?: "rrf" | "weighted"; weight?: number; k?: number; depth?: number; normalization?: "tmm" | "minmax" };
}

export interface LoadedModel {
  dir: string;
  sidecar: ModelSidecar;
  /** ONNX file the passages are encoded with. */
  passagePath: string;
  /** ONNX file shipped in the index as its query model (edgeQuery, else query). */
  queryPath: string;
  vocabPath: string;
  vocab: Array<[string, number | null]>;
  vocabBytes: Uint8Array;
  /** The query model's bytes (shipped in the index as an object; `hashes.query` is their sha256). */
  queryBytes: Uint8Array;
  /** sha256 of passage, shipped query and vocab files: what a resumed build or a merge must share. */
  hashes: { passage: string; query: string; vocab: string };
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * Reads and checks `<dir>/model.json` and the files it names.
 *
 * @example
 * const model = await loadModel("models/use-lite"); // model.sidecar.dim, model.passagePath, ...
 */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const bad = (msg: string, cause?: unknown) => new BuildError("invalid_model", `model ${dir}: ${msg}`, { cause });
  let sidecar: ModelSidecar;
  try {
    sidecar = JSON.parse(await readFile(path.join(dir, "model.json"), "utf8"));
  } catch (e) {
    throw bad(`cannot read model.json (${(e as Error).message.split("\n")[0]})`, e);
  }
  for (const k of ["name", "query", "passage", "vocab"] as const) {
    if (typeof sidecar[k] !== "string" || !sidecar[k]) throw bad(`model.json: "${k}" must be a non-empty string`);
  }
  for (const k of ["dim", "maxQueryTokens", "maxPassageTokens"] as const) {
    if (!Number.isInteger(sidecar[k]) || sidecar[k] < 1) throw bad(`model.json: "${k}" must be a positive integer`);
  }
  if (sidecar.maxQueryTokens > 128 || sidecar.maxPassageTokens > 128) throw bad("model.json: token windows must be <= 128");
  if (typeof sidecar.normalized !== "boolean") throw bad(`model.json: "normalized" must be a boolean`);
  const queryFile = sidecar.edgeQuery || sidecar.query;
  const files = { passage: sidecar.passage, query: queryFile, vocab: sidecar.vocab };
  const hashes = { passage: "", query: "", vocab: "" };
  const bytes = { passage: new Uint8Array(), query: new Uint8Array(), vocab: new Uint8Array() };
  for (const [k, f] of Object.entries(files) as Array<[keyof typeof files, string]>) {
    const full = path.join(dir, f);
    try {
      const b = new Uint8Array(await readFile(full));
      hashes[k] = sha(b);
      if (k !== "passage") bytes[k] = b; // the passage model is loaded by onnxruntime from its file
    } catch (e) {
      throw bad(`cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
    }
    const expected = sidecar.sha256?.[f];
    if (expected && expected !== hashes[k]) throw bad(`${f}: sha256 ${hashes[k]}, model.json says ${expected}`);
  }
  let vocab: Array<[string, number | null]>;
  try {
    vocab = JSON.parse(new TextDecoder().decode(bytes.vocab));
    if (!Array.isArray(vocab)) throw new Error("not an array");
  } catch (e) {
    throw bad(`${sidecar.vocab}: not a JSON array of [piece, score] (${(e as Error).message})`, e);
  }
  return {
    dir,
    sidecar,
    passagePath: path.join(dir, sidecar.passage),
    queryPath: path.join(dir, queryFile),
    vocabPath: path.join(dir, sidecar.vocab),
    vocab,
    vocabBytes: bytes.vocab,
    queryBytes: bytes.query,
    hashes,
  };
}
