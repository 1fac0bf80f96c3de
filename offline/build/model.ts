// A model directory (`models/<name>/`): the model.json sidecar, its ONNX files and vocab, checked against the
// sidecar's sha256 map when it has one.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { decodeStaticQuery } from "../../src/format/static-query.ts";
import { parsePseudoFusionAnchor, type PseudoFusionAnchor } from "./adaptive-fusion.ts";
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
  /**
   * An int8 passage model for CPU builds that ask for it (`i3 build --passage int8`; onnxruntime only): about twice
   * the passages/s of `passage`, nDCG@10 within 0.002 on the four sets with every partition scanned (docs/RESULTS.md).
   */
  cpuPassage?: string;
  /** Quantized query model for the worker: shipped as the index's query model when present. */
  edgeQuery?: string;
  /**
   * "optimized": `edgeQuery`'s graph was optimized at export (onnxruntime's "extended" level, hardware-independent:
   * `python -m offline.train.export optimize`); the index says so (`model.graph`) and the worker loads it without
   * optimizing it again.
   */
  edgeQueryGraph?: "optimized";
  /** Static query model (`I3SQ`, src/format/static-query.ts): shipped in the index as `model.static` when present. */
  static?: string;
  /** The encoder a search of an index built with this model runs when it names none (default "model"). */
  defaultEncoder?: "model" | "static";
  sha256?: Record<string, string>;
  /**
   * Hybrid fusion defaults tuned for this model (never on test queries); `i3 build` writes them into the index.
   * A weight without a normalization was tuned for "minmax" (model files before manifest 1.2).
   */
  fusion?: { mode?: "rrf" | "weighted"; weight?: number; k?: number; depth?: number; normalization?: "tmm" | "minmax" };
  /**
   * The anchor of the adaptive fusion weight (offline/build/adaptive-fusion.ts): `i3 build` scales its weight by the
   * corpus's pseudo-query ratio over this one, unless the build's flags fix the fusion.
   */
  pseudoFusion?: PseudoFusionAnchor;
}

export interface LoadedModel {
  dir: string;
  sidecar: ModelSidecar;
  /** ONNX file the passages are encoded with (`cpuPassage` when asked for and the model has one, else `passage`). */
  passagePath: string;
  /** ONNX file shipped in the index as its query model (edgeQuery, else query). */
  queryPath: string;
  vocabPath: string;
  vocab: Array<[string, number | null]>;
  vocabBytes: Uint8Array;
  /** The query model's bytes (shipped in the index as an object; `hashes.query` is their sha256). */
  queryBytes: Uint8Array;
  /** The static query model's bytes and sha256, when the model has one (checked: decodes, same dims and vocab). */
  static?: { bytes: Uint8Array; sha256: string };
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
export async function loadModel(dir: string, opts: { cpuPassage?: boolean } = {}): Promise<LoadedModel> {
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
  sidecar.pseudoFusion = parsePseudoFusionAnchor(sidecar.pseudoFusion, `model ${dir}: model.json`);
  const queryFile = sidecar.edgeQuery || sidecar.query;
  if (sidecar.cpuPassage !== undefined && (typeof sidecar.cpuPassage !== "string" || !sidecar.cpuPassage)) throw bad(`model.json: "cpuPassage" must be a non-empty string`);
  const passageFile = opts.cpuPassage && sidecar.cpuPassage ? sidecar.cpuPassage : sidecar.passage;
  const files = { passage: passageFile, query: queryFile, vocab: sidecar.vocab };
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
  const staticModel = sidecar.static === undefined ? undefined : await loadStatic(dir, sidecar, vocab.length, bad);
  if (sidecar.defaultEncoder !== undefined && !["model", "static"].includes(sidecar.defaultEncoder)) throw bad(`model.json: "defaultEncoder" must be "model" or "static"`);
  if (sidecar.edgeQueryGraph !== undefined && (sidecar.edgeQueryGraph !== "optimized" || !sidecar.edgeQuery)) {
    throw bad(`model.json: "edgeQueryGraph" must be "optimized", and only beside an "edgeQuery"`);
  }
  if (sidecar.defaultEncoder === "static" && !staticModel) throw bad(`model.json: "defaultEncoder" is "static" but the model names no "static" file`);
  return {
    dir,
    sidecar,
    ...(staticModel ? { static: staticModel } : {}),
    passagePath: path.join(dir, passageFile),
    queryPath: path.join(dir, queryFile),
    vocabPath: path.join(dir, sidecar.vocab),
    vocab,
    vocabBytes: bytes.vocab,
    queryBytes: bytes.query,
    hashes,
  };
}

/** Whether an index whose query model has sha256 `sha` was built with this model's query model (or the file its optimized graph replaced: the same outputs). */
export function sharesQuery(model: Pick<LoadedModel, "hashes" | "sidecar">, sha: string): boolean {
  return sha === model.hashes.query || sha === replacedQuery(model.sidecar);
}

/**
 * The sha256 an optimized edge query graph replaced (`edgeQueryVariants[edgeQuery].graph.replaces`), if recorded: an
 * index built with that file was built with this model (the same outputs).
 */
export function replacedQuery(sidecar: Pick<ModelSidecar, "edgeQuery" | "edgeQueryGraph">): string | undefined {
  if (sidecar.edgeQueryGraph !== "optimized" || !sidecar.edgeQuery) return undefined;
  const variants = (sidecar as { edgeQueryVariants?: Record<string, { graph?: { replaces?: unknown } }> }).edgeQueryVariants;
  const sha = variants?.[sidecar.edgeQuery]?.graph?.replaces;
  return typeof sha === "string" && /^[0-9a-f]{64}$/.test(sha) ? sha : undefined;
}

/** Reads and checks the sidecar's static query model: its sha256, its layout, and its dims and vocab against the model's. */
async function loadStatic(dir: string, sidecar: ModelSidecar, vocabSize: number, bad: (msg: string, cause?: unknown) => BuildError) {
  const f = sidecar.static!;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path.join(dir, f)));
  } catch (e) {
    throw bad(`cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, e);
  }
  const sha256 = sha(bytes);
  const expected = sidecar.sha256?.[f];
  if (expected && expected !== sha256) throw bad(`${f}: sha256 ${sha256}, model.json says ${expected}`);
  let m;
  try {
    m = decodeStaticQuery(bytes);
  } catch (e) {
    throw bad(`${f}: ${(e as Error).message}`, e);
  }
  if (m.dims !== sidecar.dim || m.vocab !== vocabSize) throw bad(`${f}: ${m.vocab} rows of ${m.dims} dims, the model has ${vocabSize} vocab entries of ${sidecar.dim} dims`);
  return { bytes, sha256 };
}
