/** Argument parsing for `npm run eval`. Throws UsageError (exit 2) with a readable message. */

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export const USAGE = `usage: npm run eval -- --data <BEIR dir> (--model <bm25 | models/<name> dir | file.onnx> | --endpoint <URL>) [options]

  --data DIR            BEIR directory: corpus.jsonl, queries.jsonl, qrels/<split>.tsv
  --model M             bm25 | a model directory with model.json | a .onnx file (vocab.json next to it, or --vocab)
                        | hybrid:<model dir or .onnx> (BM25 + dense, fused with --fusion)
  --fusion F            hybrid fusion: rrf (default, k 60; with --index/--endpoint: the index's default), rrf:<k>,
                        or weighted:<dense weight in [0,1]>[:tmm|minmax] (BM25 gets 1 - weight; runs are fused
                        by per-run min-max; --index/--endpoint use the index's normalization unless one is named)
  --index DIR           search a built index (i3 build output) offline with the worker's code (src/search,
                        src/text/analyzer.ts, the index's query model); k defaults to 100 as through the worker
  --mode M              with --index or --endpoint: dense | lexical | hybrid (default: the index's default)
  --depth N             with --index: hybrid candidates per side (default: the index's, 100)
  --endpoint URL        query a running worker instead (POST URL/search {"query","k"}); corpus is not read
  --from-run F[,F...]   evaluate existing TREC run file(s) instead of retrieving; several are fused with --fusion
  --split S             qrels split (default test)
  --run FILE            TREC run output (default runs/<data>-<tag>-<split>.trec)
  --tag NAME            run tag in the TREC file (default: bm25, the model name, or "endpoint")
  --k N                 results per query (default 1000 local, 100 with --endpoint)
  --queries-limit N     evaluate only the first N queries that have qrels
  --compare-run FILE    also print recall@10 of this run against FILE's top 10 (e.g. exact float32 search)
  --json                print the result as JSON on stdout instead of a table
  --device D            dense encoder: auto | cpu | cuda (default auto)
  --threads N           dense encoder: onnxruntime intra-op threads (default: all cores)
  --batch-size N        dense encoder: passages per batch (default 64)
  --vocab FILE          dense encoder: vocab.json when --model is a bare .onnx file
  --concurrency N       endpoint mode: requests in flight (default 4)
  --ignore-identical-ids  drop a retrieved doc whose id equals the query id (BEIR's evaluate() default)
  --bm25-k1 X, --bm25-b X  BM25 parameters (default 0.9, 0.4)
  -h, --help            this text
`;

export interface EvalArgs {
  data: string;
  model?: string;
  endpoint?: string;
  index?: string;
  mode?: "dense" | "lexical" | "hybrid";
  depth?: number;
  /** --fusion was given (with --index/--endpoint the index's default applies otherwise). */
  fusionGiven: boolean;
  fromRun?: string[];
  split: string;
  run?: string;
  tag?: string;
  k?: number;
  queriesLimit?: number;
  compareRun?: string;
  json: boolean;
  device: "auto" | "cpu" | "cuda";
  threads?: number;
  batchSize: number;
  vocab?: string;
  concurrency: number;
  ignoreIdenticalIds: boolean;
  bm25K1: number;
  bm25B: number;
  /** `normalization` (index and endpoint runs only): absent means the index's default. */
  fusion: { kind: "rrf"; k: number } | { kind: "weighted"; dense: number; normalization?: "tmm" | "minmax" };
  help: boolean;
}

const VALUED = new Set([
  "data", "model", "endpoint", "split", "run", "tag", "k", "queries-limit", "compare-run", "device", "threads",
  "batch-size", "vocab", "concurrency", "bm25-k1", "bm25-b", "fusion", "from-run", "index", "mode", "depth",
]);
const FLAGS = new Set(["json", "ignore-identical-ids", "help"]);

function posInt(name: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a positive integer, got "${v}"`);
  return Number(v);
}
function num(name: string, v: string): number {
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x < 0) throw new UsageError(`--${name} must be a non-negative number, got "${v}"`);
  return x;
}

export function parseArgs(argv: string[]): EvalArgs {
  const raw = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h") {
      flags.add("help");
      continue;
    }
    if (!a.startsWith("--")) throw new UsageError(`unexpected argument "${a}"`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (FLAGS.has(name)) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      flags.add(name);
    } else if (VALUED.has(name)) {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined || (value.startsWith("--") && value.length > 2)) throw new UsageError(`--${name} needs a value`);
      }
      if (raw.has(name)) throw new UsageError(`--${name} given twice`);
      raw.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  const help = flags.has("help");
  const data = raw.get("data");
  if (!help) {
    if (!data) throw new UsageError("--data <BEIR dir> is required");
    const modes = ["model", "endpoint", "from-run", "index"].filter((m) => raw.has(m));
    if (modes.length === 0) throw new UsageError("one of --model, --endpoint or --from-run (or --index) is required");
    if (modes.length > 1) throw new UsageError(`--${modes[0]} and --${modes[1]} are exclusive`);
  }
  const device = raw.get("device") ?? "auto";
  if (!["auto", "cpu", "cuda"].includes(device)) throw new UsageError(`--device must be auto, cpu or cuda, got "${device}"`);
  const endpoint = raw.get("endpoint");
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
    throw new UsageError(`--endpoint must be an http(s) URL, got "${endpoint}"`);
  }
  const g = (n: string) => raw.get(n);
  const fusionArg = g("fusion") ?? "rrf";
  let fusion: EvalArgs["fusion"];
  const fm = /^(rrf|weighted)(?::([^:]+))?(?::(tmm|minmax))?$/.exec(fusionArg);
  if (!fm || (fm[1] === "rrf" && fm[3])) {
    throw new UsageError(`--fusion must be rrf, rrf:<k>, weighted:<dense weight> or weighted:<dense weight>:<tmm|minmax>, got "${fusionArg}"`);
  }
  if (fm[1] === "rrf") fusion = { kind: "rrf", k: fm[2] === undefined ? 60 : num("fusion rrf:<k>", fm[2]) };
  else {
    const w = fm[2] === undefined ? 0.5 : num("fusion weighted:<w>", fm[2]);
    if (w > 1) throw new UsageError(`--fusion weighted:<w> needs 0 <= w <= 1, got ${w}`);
    fusion = { kind: "weighted", dense: w, ...(fm[3] ? { normalization: fm[3] as "tmm" | "minmax" } : {}) };
  }
  const fromRun = g("from-run")?.split(",").filter((f) => f !== "");
  if (fromRun !== undefined && fromRun.length === 0) throw new UsageError("--from-run needs at least one file");
  const indexOrEndpoint = raw.has("index") || raw.has("endpoint");
  if (raw.has("fusion") && !(raw.get("model") ?? "").startsWith("hybrid:") && !(fromRun && fromRun.length > 1) && !indexOrEndpoint) {
    throw new UsageError("--fusion needs --model hybrid:<model>, --index, --endpoint or several --from-run files");
  }
  if (fusion.kind === "weighted" && fusion.normalization && !indexOrEndpoint) {
    throw new UsageError("--fusion weighted:<w>:<normalization> needs --index or --endpoint (runs fuse by per-run min-max)");
  }
  const mode = g("mode");
  if (mode !== undefined && !indexOrEndpoint) throw new UsageError("--mode needs --index or --endpoint");
  if (mode !== undefined && !["dense", "lexical", "hybrid"].includes(mode)) throw new UsageError(`--mode must be dense, lexical or hybrid, got "${mode}"`);
  if (raw.has("depth") && !raw.has("index")) throw new UsageError("--depth needs --index");
  return {
    data: data ?? "",
    model: g("model"),
    endpoint: endpoint?.replace(/\/+$/, ""),
    index: g("index"),
    mode: mode as EvalArgs["mode"],
    depth: g("depth") !== undefined ? posInt("depth", g("depth")!) : undefined,
    fusionGiven: raw.has("fusion"),
    fromRun,
    split: g("split") ?? "test",
    run: g("run"),
    tag: g("tag"),
    k: g("k") !== undefined ? posInt("k", g("k")!) : undefined,
    queriesLimit: g("queries-limit") !== undefined ? posInt("queries-limit", g("queries-limit")!) : undefined,
    compareRun: g("compare-run"),
    json: flags.has("json"),
    device: device as EvalArgs["device"],
    threads: g("threads") !== undefined ? posInt("threads", g("threads")!) : undefined,
    batchSize: g("batch-size") !== undefined ? posInt("batch-size", g("batch-size")!) : 64,
    vocab: g("vocab"),
    concurrency: g("concurrency") !== undefined ? posInt("concurrency", g("concurrency")!) : 4,
    ignoreIdenticalIds: flags.has("ignore-identical-ids"),
    bm25K1: g("bm25-k1") !== undefined ? num("bm25-k1", g("bm25-k1")!) : 0.9,
    bm25B: g("bm25-b") !== undefined ? num("bm25-b", g("bm25-b")!) : 0.4,
    fusion,
    help,
  };
}
