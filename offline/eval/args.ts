// The command line of `i3 eval`: flags (offline/command.ts convention) -> EvalArgs. Every bad value is a UsageError
// (exit 2 with the usage text).
import type { Device } from "../encoder/node-encoder.ts";
import { choiceFlag, intFlag, numberFlag, parseFlags, UsageError } from "../command.ts";
import type { Normalization } from "../../src/search/fusion.ts";
import type { SearchMode } from "../../src/search/modes.ts";
import { QUERY_ENCODERS, type EncoderChoice } from "../../src/search/static-encoder.ts";

export const EVAL_USAGE = `usage: i3 eval --data <BEIR dir> (--index <build dir> | --model <bm25 | model dir> | --endpoint <URL> | --from-run <file>) [options]
       i3 eval --regression <file or dir> [--data-root <dir>] [--build-root <dir>] [--build]

Evaluates a retrieval source on a BEIR directory (corpus.jsonl, queries.jsonl, qrels/<split>.tsv): nDCG@10, MRR@10,
R@100, R@1000, and a TREC run file.

sources (exactly one):
  --index DIR           a built index (i3 build output) searched offline with the worker's code (src/search,
                        src/text/analyzer.ts, the index's query model); k defaults to 100 as through the worker
  --model bm25          BM25 of the product: the build's writer (offline/build/bm25.ts) into a temporary directory,
                        searched with src/search/bm25.ts; no encoder needed
  --model DIR           exact float32 dense search (the reference the int8 index is compared with): a model directory
                        with model.json; passages are each document's first window
  --endpoint URL        a running worker (POST URL/search {"query","k"}; API key from env I3_API_KEY); no corpus read
  --from-run FILE       an existing TREC run file; no corpus read

options:
  --mode M              with --index or --endpoint: dense | lexical | hybrid (default: the index's default)
  --fusion F            with --index or --endpoint: rrf (the index's k), rrf:<k>, weighted:<dense weight in [0,1]>,
                        weighted:<w>:tmm|minmax (default: the index's fusion; a weight without a normalization takes
                        the index's)
  --depth N             with --index: hybrid candidates per side (default: the index's, 100)
  --probe N             with --index or --endpoint: partitions a partitioned index scans (default: the index's)
  --encoder E           with --index or --endpoint: the dense side's query encoder, model | static (default: the
                        index's; static needs the index's static tier, or --static-model)
  --static-model FILE   with --index and --encoder static: this static query model (.i3sq) in place of the index's
                        (to compare a static tier against a build made without one)
  --split S             qrels split (default test)
  --run FILE            TREC run output (default runs/<data>-<tag>-<split>.trec)
  --tag NAME            run tag in the TREC file (default: bm25, the model name, index-..., or "endpoint")
  --k N                 results per query (default 100 with --index and --endpoint, else 1000)
  --queries-limit N     evaluate only the first N queries that have qrels
  --compare-run FILE    also print recall@10 of this run against FILE's top 10 (e.g. exact float32 search)
  --ignore-identical-ids  drop a retrieved doc whose id equals the query id (BEIR's evaluate() default)
  --json                print the result as JSON on stdout instead of a table
  --device D            --model DIR: encoder execution provider auto | cpu | cuda (default auto)
  --batch-size N        --model DIR: passages per encoder call (default 64)
  --threads N           onnxruntime intra-op threads (default: all cores)
  --bm25-k1 X, --bm25-b X  --model bm25: BM25 parameters (default 0.9, 0.4)
  --concurrency N       --endpoint: requests in flight (default 4)

regressions (regressions/<set>.<model>.<mode>.json: the build and eval commands and the expected metrics):
  --regression PATH     rerun a regression file, or every *.json of a directory (repeatable); exit 1 when a metric
                        drifts beyond the file's tolerance. One JSON line per file (stdout), then a table (stderr).
                        Run from the repository root (the recorded paths are relative to it)
  --data-root DIR       what $I3_DATA in the commands stands for (default: env I3_DATA)
  --build-root DIR      what $I3_BUILD stands for (default: env I3_BUILD, else "build")
  --build               build a missing build directory with the recorded build command (else it is an error)

  --verbose             stack traces on errors
  -h, --help            this text`;

/** A fusion named on the command line; a weighted one without a normalization takes the index's. */
export type FusionArg = { mode: "rrf"; k?: number } | { mode: "weighted"; weight: number; normalization?: Normalization };

/** Where the ranking comes from. */
export type EvalSource =
  | { kind: "index"; dir: string; mode?: SearchMode; fusion?: FusionArg; depth?: number; probe?: number; encoder?: EncoderChoice; staticModel?: string }
  | { kind: "endpoint"; url: string; mode?: SearchMode; fusion?: FusionArg; probe?: number; encoder?: EncoderChoice; concurrency: number }
  | { kind: "bm25"; k1: number; b: number }
  | { kind: "dense"; model: string; device: Device; batchSize: number }
  | { kind: "run"; file: string };

export interface EvalArgs {
  data: string;
  source: EvalSource;
  split: string;
  run?: string;
  tag?: string;
  k?: number;
  queriesLimit?: number;
  compareRun?: string;
  ignoreIdenticalIds: boolean;
  threads?: number;
  json: boolean;
}

export interface RegressionArgs {
  /** Regression files or directories (--regression may be given several times). */
  regression: string[];
  dataRoot?: string;
  buildRoot: string;
  build: boolean;
}

export const EVAL_FLAGS = {
  data: { type: "string" }, model: { type: "string" }, index: { type: "string" }, endpoint: { type: "string" },
  "from-run": { type: "string" }, mode: { type: "string" }, fusion: { type: "string" }, depth: { type: "string" }, probe: { type: "string" },
  encoder: { type: "string" }, "static-model": { type: "string" },
  split: { type: "string" }, run: { type: "string" }, tag: { type: "string" }, k: { type: "string" },
  "queries-limit": { type: "string" }, "compare-run": { type: "string" }, "ignore-identical-ids": { type: "boolean" },
  json: { type: "boolean" }, device: { type: "string" }, "batch-size": { type: "string" }, threads: { type: "string" },
  "bm25-k1": { type: "string" }, "bm25-b": { type: "string" }, concurrency: { type: "string" },
  regression: { type: "string", multiple: true }, "data-root": { type: "string" }, "build-root": { type: "string" }, build: { type: "boolean" },
  verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseFlags<typeof EVAL_FLAGS>>["values"];

const SOURCES = ["index", "model", "endpoint", "from-run"] as const;
/** Flags that belong to one kind of source only. */
const ONLY_WITH: Record<string, EvalSource["kind"][]> = {
  mode: ["index", "endpoint"], fusion: ["index", "endpoint"], depth: ["index"], probe: ["index", "endpoint"], encoder: ["index", "endpoint"], "static-model": ["index"], concurrency: ["endpoint"],
  "bm25-k1": ["bm25"], "bm25-b": ["bm25"], device: ["dense"], "batch-size": ["dense"],
};
const REGRESSION_ONLY = ["data-root", "build-root", "build"] as const;

/** `--fusion` value: rrf, rrf:<k>, weighted:<w> or weighted:<w>:<normalization>. */
export function parseFusion(s: string): FusionArg {
  const m = /^(rrf|weighted)(?::([^:]+))?(?::(tmm|minmax))?$/.exec(s);
  if (!m || (m[1] === "rrf" && m[3]) || (m[1] === "weighted" && m[2] === undefined)) {
    throw new UsageError(`--fusion must be rrf, rrf:<k>, weighted:<dense weight> or weighted:<dense weight>:<tmm|minmax>, got ${JSON.stringify(s)}`);
  }
  if (m[1] === "rrf") return m[2] === undefined ? { mode: "rrf" } : { mode: "rrf", k: numberFlag("fusion rrf:<k>", m[2], 0) };
  const weight = numberFlag("fusion weighted:<w>", m[2], 0, 1)!;
  return m[3] ? { mode: "weighted", weight, normalization: m[3] as Normalization } : { mode: "weighted", weight };
}

/** Parses `i3 eval` argv: either an evaluation or a regression run. */
export function parseEvalArgs(argv: string[]): EvalArgs | RegressionArgs {
  const { values: v, positionals } = parseFlags(argv, EVAL_FLAGS);
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  if (v.regression !== undefined) return regressionArgs(v);
  for (const f of REGRESSION_ONLY) if (v[f] !== undefined) throw new UsageError(`--${f} needs --regression`);
  if (!v.data) throw new UsageError("--data <BEIR dir> is required");
  const source = sourceArgs(v);
  for (const [flag, kinds] of Object.entries(ONLY_WITH)) {
    if (v[flag as keyof Values] !== undefined && !kinds.includes(source.kind)) throw new UsageError(`--${flag} does not apply to this source (${sourceFlagsFor(kinds)} only)`);
  }
  return {
    data: v.data,
    source,
    split: v.split ?? "test",
    run: v.run,
    tag: v.tag,
    k: intFlag("k", v.k),
    queriesLimit: intFlag("queries-limit", v["queries-limit"]),
    compareRun: v["compare-run"],
    ignoreIdenticalIds: !!v["ignore-identical-ids"],
    threads: intFlag("threads", v.threads),
    json: !!v.json,
  };
}

function regressionArgs(v: Values): RegressionArgs {
  const other = Object.keys(v).filter((k) => !["regression", "verbose", ...REGRESSION_ONLY].includes(k));
  if (other.length) throw new UsageError(`--regression runs the recorded commands; --${other[0]} does not apply`);
  return { regression: v.regression!, dataRoot: v["data-root"], buildRoot: v["build-root"] ?? process.env.I3_BUILD ?? "build", build: !!v.build };
}

function sourceArgs(v: Values): EvalSource {
  const given = SOURCES.filter((s) => v[s] !== undefined);
  if (given.length === 0) throw new UsageError("one of --index, --model, --endpoint or --from-run is required");
  if (given.length > 1) throw new UsageError(`--${given[0]} and --${given[1]} are exclusive`);
  const mode = choiceFlag("mode", v.mode, ["dense", "lexical", "hybrid"] as const);
  const fusion = v.fusion === undefined ? undefined : parseFusion(v.fusion);
  const encoder = choiceFlag("encoder", v.encoder, QUERY_ENCODERS);
  switch (given[0]) {
    case "index":
      if (v["static-model"] && encoder !== "static") throw new UsageError("--static-model needs --encoder static");
      return { kind: "index", dir: v.index!, mode, fusion, depth: intFlag("depth", v.depth), probe: intFlag("probe", v.probe), encoder, staticModel: v["static-model"] };
    case "endpoint": {
      if (!/^https?:\/\/[^/]/.test(v.endpoint!)) throw new UsageError(`--endpoint must be an http(s) URL, got ${JSON.stringify(v.endpoint)}`);
      if (fusion?.mode === "rrf" && fusion.k !== undefined) throw new UsageError("--fusion rrf:<k> needs --index (a worker request cannot name k: it uses the index's)");
      return { kind: "endpoint", url: v.endpoint!.replace(/\/+$/, ""), mode, fusion, probe: intFlag("probe", v.probe), encoder, concurrency: intFlag("concurrency", v.concurrency) ?? 4 };
    }
    case "from-run":
      return { kind: "run", file: v["from-run"]! };
    case "model":
      if (v.model === "bm25") return { kind: "bm25", k1: numberFlag("bm25-k1", v["bm25-k1"], 0) ?? 0.9, b: numberFlag("bm25-b", v["bm25-b"], 0, 1) ?? 0.4 };
      return { kind: "dense", model: v.model!, device: choiceFlag("device", v.device, ["auto", "cpu", "cuda"] as const) ?? "auto", batchSize: intFlag("batch-size", v["batch-size"]) ?? 64 };
  }
}

function sourceFlagsFor(kinds: EvalSource["kind"][]): string {
  const flag = { index: "--index", endpoint: "--endpoint", bm25: "--model bm25", dense: "--model <dir>", run: "--from-run" };
  return kinds.map((k) => flag[k]).join(" or ");
}
