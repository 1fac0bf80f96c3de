// One evaluation: a BEIR directory and a retrieval source in, metrics and a TREC run out.
import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { loadModel, type LoadedModel } from "../build/model.ts";
import type { EvalArgs, EvalSource, FusionArg } from "./args.ts";
import { beirPaths, readQrels, readQueries, type BeirPaths, type Qrels, type Query } from "./beir.ts";
import { bm25Run } from "./bm25-run.ts";
import { exactRun, type EncodeStats } from "./dense.ts";
import { endpointRun } from "./endpoint.ts";
import { indexRun } from "./index-search.ts";
import { evaluate, METRICS, overlapAt, type Run } from "./metrics.ts";
import { readRun, writeRun } from "./trec.ts";

export interface EvalResult {
  data: string;
  split: string;
  model: string;
  tag: string;
  k: number;
  queries: number;
  skippedNoQrels: number;
  qrelsWithoutQuery: number;
  noRelevant: number;
  missingFromRun: number;
  metrics: Record<string, number>;
  run: string;
  docs?: number;
  encoding?: EncodeStats;
  compare?: { file: string; recallAt10: number; queries: number };
  seconds: number;
}

type Log = (m: string) => void;

const stderrLog: Log = (m) => process.stderr.write(m + "\n");

/**
 * Runs one evaluation (progress on `log`).
 *
 * @example
 * const r = await runEval(parseEvalArgs(["--data", "data/scifact", "--index", "build/scifact"]) as EvalArgs);
 */
export async function runEval(a: EvalArgs, log: Log = stderrLog): Promise<EvalResult> {
  const t0 = performance.now();
  const paths = beirPaths(a.data, a.split, { corpus: a.source.kind === "bm25" || a.source.kind === "dense" });
  for (const [flag, f] of [["--from-run", a.source.kind === "run" ? a.source.file : undefined], ["--compare-run", a.compareRun]]) {
    if (f !== undefined && !existsSync(f)) throw new Error(`${flag} file not found: ${f}`);
  }
  // The model before any data, so that a bad --model fails fast.
  const model = a.source.kind === "dense" ? await loadModel(a.source.model) : undefined;
  const tag = a.tag ?? defaultTag(a.source, model);
  const k = a.k ?? (a.source.kind === "index" || a.source.kind === "endpoint" ? 100 : 1000);
  const q = await evalQueries(paths, a, log);
  const found = await retrieve(a, paths, q.queries, k, model, log);
  const run = a.ignoreIdenticalIds ? withoutQueryIds(found.run) : found.run;
  const ev = evaluate(run, q.qrels, q.queries.map((x) => x.id));
  const runPath = a.run ?? `runs/${basename(resolve(a.data))}-${tag}-${a.split}.trec`;
  writeRun(runPath, run, tag);
  return {
    data: a.data,
    split: a.split,
    model: sourceName(a.source),
    tag,
    k,
    queries: ev.evaluated,
    skippedNoQrels: q.skippedNoQrels,
    qrelsWithoutQuery: q.qrelsWithoutQuery,
    noRelevant: ev.noRelevant,
    missingFromRun: ev.missingFromRun,
    metrics: { ...ev.mean },
    run: runPath,
    docs: found.docs,
    encoding: found.encoding,
    compare: a.compareRun ? await compareWith(run, a.compareRun) : undefined,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The queries that have qrels in the split (the first --queries-limit of them), and what was left out. */
async function evalQueries(paths: BeirPaths, a: EvalArgs, log: Log) {
  const qrels: Qrels = await readQrels(paths.qrels);
  const all = await readQueries(paths.queries);
  const known = new Set(all.map((q) => q.id));
  let queries: Query[] = all.filter((q) => qrels.has(q.id));
  const skippedNoQrels = all.length - queries.length;
  const qrelsWithoutQuery = [...qrels.keys()].filter((q) => !known.has(q)).length;
  if (qrelsWithoutQuery > 0) log(`warning: ${qrelsWithoutQuery} queries in ${paths.qrels} are missing from ${paths.queries}; not evaluated`);
  if (a.queriesLimit !== undefined) queries = queries.slice(0, a.queriesLimit);
  if (queries.length === 0) throw new Error(`no query of ${paths.queries} has qrels in ${paths.qrels}`);
  log(`${basename(resolve(a.data))}: ${queries.length} queries with qrels in split "${a.split}" (${skippedNoQrels} without qrels skipped)`);
  return { qrels, queries, skippedNoQrels, qrelsWithoutQuery };
}

interface Retrieved {
  run: Run;
  docs?: number;
  encoding?: EncodeStats;
}

/** The ranking of every query by the source. */
async function retrieve(a: EvalArgs, paths: BeirPaths, queries: Query[], k: number, model: LoadedModel | undefined, log: Log): Promise<Retrieved> {
  const s = a.source;
  switch (s.kind) {
    case "run":
      return { run: await readRun(s.file) };
    case "index": {
      const r = await indexRun(s.dir, queries, { k, mode: s.mode, fusion: s.fusion, depth: s.depth, probe: s.probe, encoder: s.encoder, staticModel: s.staticModel, threads: a.threads, log });
      log(`answered in mode: ${JSON.stringify(r.modes)}`);
      return { run: r.run };
    }
    case "endpoint": {
      const body = { ...(s.mode ? { mode: s.mode } : {}), ...fusionRequest(s.fusion), ...(s.probe ? { probe: s.probe } : {}), ...(s.encoder ? { encoder: s.encoder } : {}) };
      log(`querying ${s.url}/search (k ${k}, concurrency ${s.concurrency}${Object.keys(body).length ? `, ${JSON.stringify(body)}` : ""})`);
      return { run: await endpointRun(queries, { url: s.url, k, concurrency: s.concurrency, log, body }) };
    }
    case "bm25":
      return bm25Run(paths.corpus, queries, { k, k1: s.k1, b: s.b, log });
    case "dense": {
      const r = await exactRun(model!, paths.corpus, queries, k, { device: s.device, threads: a.threads, batchSize: s.batchSize, log });
      return { run: r.run, docs: r.docs, encoding: r.stats };
    }
  }
}

/** The fields of a worker search request that name the fusion (what they leave out, the index decides). */
function fusionRequest(f: FusionArg | undefined): Record<string, unknown> {
  if (!f) return {};
  if (f.mode === "rrf") return { fusion: "rrf" };
  return { fusion: "weighted", weight: f.weight, ...(f.normalization ? { normalization: f.normalization } : {}) };
}

function fusionName(f: FusionArg): string {
  return f.mode === "rrf" ? `rrf${f.k ?? ""}` : `w${f.weight}${f.normalization ? `-${f.normalization}` : ""}`;
}

function defaultTag(s: EvalSource, model: LoadedModel | undefined): string {
  switch (s.kind) {
    case "dense":
      return model!.sidecar.name;
    case "index":
      return `index-${basename(resolve(s.dir))}-${s.mode ?? "default"}${s.fusion ? `-${fusionName(s.fusion)}` : ""}`;
    case "run":
      return basename(s.file).replace(/\.(trec|run|txt)$/, "").replace(/\s/g, "_");
    default:
      return s.kind;
  }
}

function sourceName(s: EvalSource): string {
  return s.kind === "index" ? s.dir : s.kind === "endpoint" ? s.url : s.kind === "run" ? s.file : s.kind === "dense" ? s.model : "bm25";
}

/** BEIR's ignore_identical_ids: a retrieved doc with the query's own id is dropped. */
function withoutQueryIds(run: Run): Run {
  return new Map([...run].map(([q, hits]) => [q, hits.filter((h) => h.id !== q)]));
}

async function compareWith(run: Run, file: string): Promise<EvalResult["compare"]> {
  const o = overlapAt(run, await readRun(file), 10);
  return { file, recallAt10: o.mean, queries: o.queries };
}

/** The result as a table with notes (what `i3 eval` prints without --json). */
export function formatTable(r: EvalResult): string {
  const head = ["data", "model", "split", "queries", ...METRICS];
  const row = [basename(resolve(r.data)), r.tag, r.split, String(r.queries), ...METRICS.map((m) => r.metrics[m].toFixed(4))];
  const w = head.map((h, i) => Math.max(h.length, row[i].length));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
  const notes: string[] = [`${r.skippedNoQrels} queries without qrels in split "${r.split}" skipped`];
  if (r.noRelevant) notes.push(`${r.noRelevant} evaluated queries have no relevant doc (score 0)`);
  if (r.missingFromRun) notes.push(`${r.missingFromRun} evaluated queries got no results (score 0)`);
  if (r.encoding) notes.push(`passage encoding: ${r.encoding.perSecond.toFixed(1)} passages/s (${r.encoding.provider})`);
  if (r.compare) notes.push(`recall@10 vs ${r.compare.file}: ${r.compare.recallAt10.toFixed(4)} over ${r.compare.queries} queries`);
  notes.push(`run (k ${r.k}): ${r.run}`);
  return [line(head), line(row), ...notes.map((n) => `# ${n}`)].join("\n");
}
