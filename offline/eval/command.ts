/**
 * The evaluation command: BEIR directory in, nDCG@10 / MRR@10 / R@100 / R@1000 and a TREC run out.
 *
 *   npm run eval -- --data <BEIR dir> --model <bm25 | models/<name> | file.onnx> [--split test] [--run out.trec]
 *                   [--tag name] [--k 1000] [--queries-limit N] [--json]
 *   npm run eval -- --data <BEIR dir> --model hybrid:models/<name> [--fusion rrf | rrf:<k> | weighted:<w>]
 *   npm run eval -- --data <BEIR dir> --index <build dir> [--mode dense|lexical|hybrid] [--fusion rrf|weighted:<w>]
 *   npm run eval -- --data <BEIR dir> --endpoint http://127.0.0.1:8787 [--k 100] [--compare-run exact.trec]
 *
 * Run `npm run eval -- --help` for every option. Exit status: 0 ok, 1 runtime error, 2 bad arguments.
 */
import { existsSync } from "node:fs";
import { basename, resolve } from "node:path";
import { parseArgs, USAGE, UsageError, type EvalArgs } from "./args.ts";
import { beirPaths, docText, readCorpus, readQrels, readQueries, type Query } from "./beir.ts";
import { Bm25Index } from "./bm25.ts";
import { denseRun, loadTokenizer, PassageStore, resolveModel, type EncodeStats } from "./dense.ts";
import { endpointRun } from "./endpoint.ts";
import { indexRun } from "./index-search.ts";
import { evaluate, METRICS, overlapAt, type Run } from "./metrics.ts";
import { readRun, writeRun } from "./trec.ts";
import { rrf, weighted } from "./fusion.ts";

const log = (m: string) => process.stderr.write(m + "\n");

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

export async function runEval(a: EvalArgs): Promise<EvalResult> {
  const t0 = performance.now();
  const paths = beirPaths(a.data, a.split, { corpus: !a.endpoint && !a.fromRun && !a.index });
  for (const f of a.fromRun ?? []) if (!existsSync(f)) throw new Error(`--from-run file not found: ${f}`);
  if (a.compareRun && !existsSync(a.compareRun)) throw new Error(`--compare-run file not found: ${a.compareRun}`);
  const dataName = basename(resolve(a.data));

  // Resolve the model before reading any data, so a bad --model fails fast.
  const mode = a.fromRun ? "from-run" : a.index ? "index" : a.endpoint ? "endpoint" : a.model === "bm25" ? "bm25" : a.model!.startsWith("hybrid:") ? "hybrid" : "dense";
  const dense =
    mode === "dense" ? resolveModel(a.model!, a.vocab) : mode === "hybrid" ? resolveModel(a.model!.slice("hybrid:".length), a.vocab) : null;
  const k = a.k ?? (mode === "endpoint" || mode === "index" ? 100 : 1000);
  const fusionName = a.fusion.kind === "rrf" ? `rrf${a.fusion.k}` : `w${a.fusion.dense}`;
  const tag =
    a.tag ??
    (mode === "dense"
      ? dense!.name
      : mode === "hybrid"
        ? `hybrid-${dense!.name}-bm25-${fusionName}`
        : mode === "index"
          ? `index-${basename(resolve(a.index!))}-${a.mode ?? "default"}${a.fusionGiven ? `-${fusionName}` : ""}`
        : mode === "from-run"
          ? a.fromRun!.length > 1 ? `fused-${fusionName}` : basename(a.fromRun![0]).replace(/\.(trec|run|txt)$/, "").replace(/\s/g, "_")
          : mode);

  const qrels = await readQrels(paths.qrels);
  const allQueries = await readQueries(paths.queries);
  const known = new Set(allQueries.map((q) => q.id));
  let queries: Query[] = allQueries.filter((q) => qrels.has(q.id));
  const skippedNoQrels = allQueries.length - queries.length;
  const qrelsWithoutQuery = [...qrels.keys()].filter((q) => !known.has(q)).length;
  if (qrelsWithoutQuery > 0) log(`warning: ${qrelsWithoutQuery} queries in ${paths.qrels} are missing from ${paths.queries}; not evaluated`);
  if (a.queriesLimit !== undefined) queries = queries.slice(0, a.queriesLimit);
  if (queries.length === 0) throw new Error(`no query of ${paths.queries} has qrels in ${paths.qrels}`);
  log(`${dataName}: ${queries.length} queries with qrels in split "${a.split}" (${skippedNoQrels} without qrels skipped)`);

  let run: Run;
  let docs: number | undefined;
  let encoding: EncodeStats | undefined;
  if (mode === "from-run") {
    const runs = await Promise.all(a.fromRun!.map((f) => readRun(f)));
    if (runs.length === 1) run = runs[0];
    else {
      // --fusion weighted:<w> gives the first file weight w and spreads 1 - w evenly over the others
      const rest = (1 - (a.fusion.kind === "weighted" ? a.fusion.dense : 0)) / (runs.length - 1);
      const fused = a.fusion.kind === "rrf" ? rrf(runs, a.fusion.k) : weighted(runs, runs.map((_, i) => (i === 0 ? (a.fusion as { dense: number }).dense : rest)));
      run = new Map([...fused].map(([q, hits]) => [q, hits.slice(0, k)]));
    }
  } else if (mode === "index") {
    const fusion = a.fusionGiven
      ? (a.fusion.kind === "rrf" ? { mode: "rrf" as const, k: a.fusion.k } : { mode: "weighted" as const, weight: a.fusion.dense, normalization: a.fusion.normalization })
      : undefined;
    const r = await indexRun(a.index!, queries, { k, mode: a.mode, fusion, depth: a.depth, threads: a.threads, log });
    log(`answered in mode: ${JSON.stringify(r.modes)}`);
    run = r.run;
  } else if (mode === "endpoint") {
    const body: Record<string, unknown> = {};
    if (a.mode) body.mode = a.mode;
    if (a.fusionGiven) {
      Object.assign(body, a.fusion.kind === "rrf"
        ? { fusion: "rrf" }
        : { fusion: "weighted", weight: a.fusion.dense, ...(a.fusion.normalization ? { normalization: a.fusion.normalization } : {}) });
    }
    log(`querying ${a.endpoint}/search (k ${k}, concurrency ${a.concurrency}${Object.keys(body).length ? `, ${JSON.stringify(body)}` : ""})`);
    run = await endpointRun(queries, { url: a.endpoint!, k, concurrency: a.concurrency, log, body });
  } else {
    // One pass over the corpus feeds BM25 and/or the dense passage store.
    const useBm25 = mode === "bm25" || mode === "hybrid";
    const useDense = mode === "dense" || mode === "hybrid";
    const index = useBm25 ? new Bm25Index({ k1: a.bm25K1, b: a.bm25B }) : null;
    const encodeText = useDense ? await loadTokenizer(dense!.vocab) : null;
    const store = useDense ? new PassageStore(encodeText!, dense!.maxPassageTokens) : null;
    const t = performance.now();
    for await (const d of readCorpus(paths.corpus)) {
      const text = docText(d);
      index?.add(d.id, text);
      store?.add(d.id, text);
    }
    index?.finish();
    docs = index ? index.size : store!.ids.length;
    log(`read ${docs} docs in ${((performance.now() - t) / 1000).toFixed(1)} s` + (index ? ` (bm25 k1 ${a.bm25K1}, b ${a.bm25B})` : ""));
    let lexical: Run | undefined;
    if (index) {
      lexical = new Map();
      for (const q of queries) lexical.set(q.id, index.search(q.text, k).map((h) => ({ id: index.ids[h.doc], score: h.score })));
    }
    let semantic: Run | undefined;
    if (store) {
      const r = await denseRun(dense!, store, queries, encodeText!, k, {
        device: a.device,
        threads: a.threads,
        batchSize: a.batchSize,
        log,
      });
      semantic = r.run;
      encoding = r.stats;
    }
    if (mode === "hybrid") {
      const fused = a.fusion.kind === "rrf" ? rrf([semantic!, lexical!], a.fusion.k) : weighted([semantic!, lexical!], [a.fusion.dense, 1 - a.fusion.dense]);
      run = new Map([...fused].map(([q, hits]) => [q, hits.slice(0, k)]));
    } else {
      run = (lexical ?? semantic)!;
    }
  }

  if (a.ignoreIdenticalIds) {
    for (const [q, hits] of run) run.set(q, hits.filter((h) => h.id !== q));
  }

  const ev = evaluate(run, qrels, queries.map((q) => q.id));
  const runPath = a.run ?? `runs/${dataName}-${tag}-${a.split}.trec`;
  writeRun(runPath, run, tag);

  let compare: EvalResult["compare"];
  if (a.compareRun) {
    const other = await readRun(a.compareRun);
    const o = overlapAt(run, other, 10);
    compare = { file: a.compareRun, recallAt10: o.mean, queries: o.queries };
  }
  return {
    data: a.data,
    split: a.split,
    model: mode === "endpoint" ? a.endpoint! : mode === "index" ? a.index! : mode === "from-run" ? a.fromRun!.join(",") : a.model!,
    tag,
    k,
    queries: ev.evaluated,
    skippedNoQrels,
    qrelsWithoutQuery,
    noRelevant: ev.noRelevant,
    missingFromRun: ev.missingFromRun,
    metrics: { ...ev.mean },
    run: runPath,
    docs,
    encoding,
    compare,
    seconds: (performance.now() - t0) / 1000,
  };
}

export function formatTable(r: EvalResult): string {
  const head = ["data", "model", "split", "queries", ...METRICS];
  const row = [basename(resolve(r.data)), r.tag, r.split, String(r.queries), ...METRICS.map((m) => r.metrics[m].toFixed(4))];
  const w = head.map((h, i) => Math.max(h.length, row[i].length));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
  const out = [line(head), line(row)];
  const notes: string[] = [];
  notes.push(`${r.skippedNoQrels} queries without qrels in split "${r.split}" skipped`);
  if (r.noRelevant) notes.push(`${r.noRelevant} evaluated queries have no relevant doc (score 0)`);
  if (r.missingFromRun) notes.push(`${r.missingFromRun} evaluated queries got no results (score 0)`);
  if (r.encoding) notes.push(`passage encoding: ${r.encoding.perSecond.toFixed(1)} passages/s (${r.encoding.provider})`);
  if (r.compare) notes.push(`recall@10 vs ${r.compare.file}: ${r.compare.recallAt10.toFixed(4)} over ${r.compare.queries} queries`);
  notes.push(`run (k ${r.k}): ${r.run}`);
  return out.join("\n") + "\n" + notes.map((n) => `# ${n}`).join("\n") + "\n";
}

export async function main(argv: string[]): Promise<number> {
  let a: EvalArgs;
  try {
    a = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`eval: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (a.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const r = await runEval(a);
    process.stdout.write(a.json ? JSON.stringify(r, null, 2) + "\n" : formatTable(r));
    return 0;
  } catch (e) {
    process.stderr.write(`eval: error: ${(e as Error).message}\n`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname);
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
