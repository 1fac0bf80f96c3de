/**
 * The scorer beside its peers on identical vectors: exact float32 in JS, this project's scorer (binary pass + int8
 * rescoring, and exact int8), Orama, edgevec, hnswlib-wasm, voy-search and usearch (native).
 *
 *   npm run bench:peers -- [--n 100000] [--dims 512] [--distribution clustered|uniform] [--queries 200]
 *       [--peers float32,i3,...] [--budget-s 300] [--seed 1] [--clusters 1000] [--spread 0.33] [--k 10]
 *       [--warmup 10] [--cache-dir DIR] [--json]
 *
 * Unit-normalized float32 vectors from a seeded generator (scripts/lib/synthetic.ts) and held-out queries drawn
 * the same way; the exact top-k of every query (float32 inner product) is the ground truth. The data set is cached
 * in --cache-dir (default: <os tmpdir>/i3-bench-peers), so a second run skips generation and the exact search.
 * Each peer then runs alone in a child process (scripts/lib/peer-child.ts): build time, query latency one query
 * at a time (after --warmup queries made of base rows), recall@k against the exact top-k, and memory around the
 * build (resident set and JS heap deltas after forced GC, and the build's peak; see peer-child.ts).
 * A peer gets --budget-s seconds in all: queries stop at the budget (the note says how many ran), and a build still
 * running then is killed and noted. Prints a markdown table, or with --json one JSON line per peer.
 */
import { fork } from "node:child_process";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { STDIO, UsageError, choiceFlag, intFlag, numberFlag, parseFlags, runCommand, type CommandIO } from "../offline/command.ts";
import type { ChildMessage } from "./lib/peer-child.ts";
import { loadOrCreateDataset, type DatasetSpec } from "./lib/peer-dataset.ts";
import { formatTable, meanExactScore, percentile, recallAtK, type PeerResult } from "./lib/peer-report.ts";
import { PEERS } from "./lib/peers/index.ts";
import { DISTRIBUTIONS, SYNTHETIC_DEFAULTS } from "./lib/synthetic.ts";

const USAGE = `usage: npm run bench:peers -- [--n 100000] [--dims 512] [--distribution ${DISTRIBUTIONS.join("|")}]
    [--queries 200] [--peers ${Object.keys(PEERS).join(",")}] [--budget-s 300] [--seed 1] [--clusters 1000]
    [--spread 0.33] [--k 10] [--warmup 10] [--cache-dir DIR] [--json]`;

const FLAGS = {
  n: { type: "string" }, dims: { type: "string" }, distribution: { type: "string" }, queries: { type: "string" },
  peers: { type: "string" }, "budget-s": { type: "string" }, seed: { type: "string" }, clusters: { type: "string" },
  spread: { type: "string" }, k: { type: "string" }, warmup: { type: "string" }, "cache-dir": { type: "string" },
  json: { type: "boolean" }, verbose: { type: "boolean" },
} as const;

const GRACE_MS = 15_000; // after the budget, for the last report to arrive before the child is killed

interface Options {
  spec: DatasetSpec;
  peers: string[];
  budgetMs: number;
  warmup: number;
  cacheDir: string;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values: v, positionals } = parseFlags(argv, FLAGS);
  if (positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const peers = v.peers ? v.peers.split(",").map((p) => p.trim()).filter(Boolean) : Object.keys(PEERS);
  const unknown = peers.filter((p) => !(p in PEERS));
  if (unknown.length) throw new UsageError(`unknown peer ${unknown.join(", ")}; known: ${Object.keys(PEERS).join(", ")}`);
  const spec: DatasetSpec = {
    n: intFlag("n", v.n) ?? 100_000,
    dims: intFlag("dims", v.dims) ?? 512,
    distribution: choiceFlag("distribution", v.distribution, DISTRIBUTIONS) ?? "clustered",
    queries: intFlag("queries", v.queries) ?? 200,
    k: intFlag("k", v.k) ?? 10,
    seed: intFlag("seed", v.seed, 0) ?? SYNTHETIC_DEFAULTS.seed,
    clusters: intFlag("clusters", v.clusters) ?? SYNTHETIC_DEFAULTS.clusters,
    spread: numberFlag("spread", v.spread, 0) ?? SYNTHETIC_DEFAULTS.spread,
  };
  if (spec.k > spec.n) throw new UsageError(`--k (${spec.k}) must not exceed --n (${spec.n})`);
  return {
    spec, peers,
    budgetMs: (numberFlag("budget-s", v["budget-s"], 1) ?? 300) * 1000,
    warmup: intFlag("warmup", v.warmup, 0) ?? 10,
    cacheDir: v["cache-dir"] ?? join(tmpdir(), "i3-bench-peers"),
    json: v.json ?? false,
  };
}

interface ChildOutcome {
  built?: Extract<ChildMessage, { type: "built" }>;
  done?: Extract<ChildMessage, { type: "done" }>;
  error?: string;
  killed: boolean;
  exit: string;
  lastLine: string;
}

/** Runs one peer in a child process within the budget; its stdout and stderr go to our stderr. */
function runChild(path: string, peer: string, o: Options): Promise<ChildOutcome> {
  const deadline = Date.now() + o.budgetMs;
  const child = fork(join(import.meta.dirname, "lib", "peer-child.ts"), [path, peer, String(deadline), String(o.warmup)], {
    execArgv: [...process.execArgv, "--expose-gc"],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const outcome: ChildOutcome = { killed: false, exit: "", lastLine: "" };
  const echo = (chunk: Buffer) => {
    process.stderr.write(chunk);
    const lines = chunk.toString().trim().split("\n");
    outcome.lastLine = lines[lines.length - 1] || outcome.lastLine;
  };
  child.stdout!.on("data", echo);
  child.stderr!.on("data", echo);
  child.on("message", (m: ChildMessage) => {
    if (m.type === "built") outcome.built = m;
    else if (m.type === "done") outcome.done = m;
    else outcome.error = m.message;
  });
  const timer = setTimeout(() => {
    outcome.killed = true;
    child.kill("SIGKILL");
  }, o.budgetMs + GRACE_MS);
  return new Promise((ok) =>
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      outcome.exit = signal ? `signal ${signal}` : `code ${code}`;
      ok(outcome);
    }),
  );
}

/** The table row of one peer from what its child reported. */
function summarize(peer: string, c: ChildOutcome, truth: Uint32Array, o: Options): PeerResult {
  const r: PeerResult = { peer };
  const budget = `${o.budgetMs / 1000} s budget`;
  if (c.built) {
    Object.assign(r, { label: c.built.label, version: c.built.version, buildS: c.built.buildMs / 1000 });
    r.buildCpuS = c.built.buildCpuMs / 1000;
    Object.assign(r, { rssMB: c.built.rssMB, jsMB: c.built.jsMB, peakMB: c.built.peakMB });
  }
  if (c.done && c.done.latenciesMs.length) {
    const sorted = [...c.done.latenciesMs].sort((a, b) => a - b);
    r.p50Ms = percentile(sorted, 50);
    r.p99Ms = percentile(sorted, 99);
    r.meanMs = sorted.reduce((s, x) => s + x, 0) / sorted.length;
    r.recall = recallAtK(c.done.ids, truth, o.spec.k);
    r.queries = sorted.length;
    if (r.queries < o.spec.queries) r.note = `${r.queries} of ${o.spec.queries} queries within the ${budget}`;
  } else if (c.error) {
    r.note = `failed: ${c.error.split("\n")[0]}`;
  } else if (c.killed) {
    r.note = c.built ? `no query within the ${budget}` : `build not finished within the ${budget}: skipped`;
  } else if (!c.done) {
    r.note = `exited (${c.exit}) before reporting${c.lastLine ? `: ${c.lastLine}` : ""}`;
  }
  return r;
}

/** The cached data set's path and exact top-k; the vectors themselves are not kept here (each child reads them). */
function groundTruth(o: Options, io: CommandIO): { path: string; truth: Uint32Array; truthScores: Float32Array } {
  const { path, data } = loadOrCreateDataset(o.cacheDir, o.spec, io.err);
  return { path, truth: data.truth, truthScores: data.truthScores };
}

async function bench(o: Options, io: CommandIO): Promise<void> {
  const { spec } = o;
  const { path, truth, truthScores } = groundTruth(o, io);
  const top1 = meanExactScore(truthScores, spec.k, 0);
  const topK = meanExactScore(truthScores, spec.k, spec.k - 1);
  const shape = spec.distribution === "clustered" ? ` (${spec.clusters} clusters, spread ${spec.spread})` : "";
  const title =
    `${spec.n} ${spec.distribution}${shape} unit vectors, ${spec.dims} dims, seed ${spec.seed}, ${spec.queries} held-out ` +
    `queries, top ${spec.k}: exact similarity of the 1st ${top1.toFixed(3)}, of the ${spec.k}th ${topK.toFixed(3)} (means); ` +
    `load average ${loadavg()[0].toFixed(1)} at the start`;
  io.err(title);

  const results: PeerResult[] = [];
  for (const peer of o.peers) {
    io.err(`-- ${peer}`);
    const r = summarize(peer, await runChild(path, peer, o), truth, o);
    io.err(`   build ${r.buildS?.toFixed(1) ?? "-"} s, p50 ${r.p50Ms?.toFixed(2) ?? "-"} ms, recall ${r.recall?.toFixed(3) ?? "-"}${r.note ? `, ${r.note}` : ""}`);
    results.push(r);
    const context = { n: spec.n, dims: spec.dims, distribution: spec.distribution, k: spec.k, seed: spec.seed, top1, load: loadavg()[0] };
    if (o.json) io.out(JSON.stringify({ ...r, ...context }));
  }
  const table = `${title}\n\n${formatTable(results, spec.k)}`;
  if (o.json) io.err(table);
  else io.out(table);
}

process.exitCode = await runCommand("bench-peers", USAGE, process.argv.slice(2), STDIO, () => bench(parseOptions(process.argv.slice(2)), STDIO));
