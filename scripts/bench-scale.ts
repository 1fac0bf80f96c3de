/**
 * The scale benchmark: an index of N passages in the real format, published to the local R2, served by a fresh
 * `wrangler dev`, measured from a client. Prints one JSON line (and a readable summary on stderr).
 *
 *   npm run bench:scale -- --passages 100000 [--dim 512] [--distribution clustered|uniform|real] [--r2-latency-ms 20] [--colo-latency-ms 0]
 *       [--queries <queries.jsonl>] [--index <build dir> (real)] [--n 200] [--warmup 50] [--mode hybrid] [--budget-mb 64] [--cold-colo]
 *       [--saturation <seconds>] [--cold-runs <n>] [--worker-env lite] [--partitions <n>] [--no-colo-keys] [--encoder model|static|auto] [--json]
 *
 * Vectors: "clustered" puts passages around 1,000 topic centres that are the query model's vectors of real query
 * texts (a passage = centre + Gaussian noise, unit length: nearest neighbours at cosine ~0.9), "uniform" draws
 * random directions; both are seeded. Each passage is a document whose text is its centre's query words plus filler
 * words, so BM25 and hybrid have something to match. "real" serves an existing build (--index; its own queries).
 * The query texts the client sends are held out from the centres. Recall@10 is the worker's dense top 10 against
 * exact float32 search over the same vectors with the worker's query vectors (offline/encoder/query-model.ts).
 * Latency is client-timed, and reported with the /healthz p50 of the same run (the local server's own cost).
 * `--worker-env lite` runs the lite worker (wrangler.toml [env.lite]: no onnxruntime-web). `--r2-latency-ms` delays
 * every R2 read, `--colo-latency-ms` every colo cache read (the local colo answers at once; a deployment's cache reads
 * take a few ms, six at a time per request), as a deployment waits for each.
 * The worker runs with a COLO_SHARE_SECRET (API key records shared through the colo cache, as a deployment that sets
 * one); `--no-colo-keys` runs it without, so every new isolate reads its key record from R2. `--encoder` names the
 * requests' query encoder (default: the index's); "auto" lets a new isolate answer with the static tier while its
 * query model loads. Cold: the first query of new workers (`--cold-runs`), each a query the colo has never seen
 * (`coldMs`), and each a query it has (`coldRepeatMs`: the query model's vector from the colo cache, no session).
 * Warm: the held-out texts, with earlier runs' query vectors taken out of the local colo cache first, so that the query
 * model runs for each (`warmEncoded` counts where the vectors came from); `repeatedP50OverFloorMs`: the same texts again.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { decodeDocBlock, decodeFloatRows, decodeShard, float16Table } from "../src/format/index.ts";
import { createTokenizer } from "../src/text/tokenizer/index.ts";
import { QUERY_ENCODERS } from "../src/search/static-encoder.ts";
import { writeLexical } from "../offline/build/bm25.ts";
import { openBuildDir } from "../offline/build/build-dir.ts";
import { assembleManifest, finalizeBuild } from "../offline/build/finalize.ts";
import { loadModel, sharesQuery } from "../offline/build/model.ts";
import { createObjectStore } from "../offline/build/object-store.ts";
import { defaultPartitionCount, writePartitions } from "../offline/build/partitions.ts";
import { PARTITION_RULE } from "../offline/vectors/partition.ts";
import { readInfoJson } from "../offline/build/build-info.ts";
import { createDocBlockWriter, createShardWriter, quantizeRows } from "../offline/build/writers.ts";
import { runKeysCommand } from "../offline/keys/cli.ts";
import { runPublishCommand } from "../offline/publish/cli.ts";
import { startLocalWorker } from "../offline/local-worker.ts";
import { normalizeRows } from "../offline/vectors/kmeans.ts";
import { rng } from "../src/random.ts";
import { hybridWindow, searchOptions } from "../src/search/modes.ts";
import { createTopKIp } from "../offline/vectors/topk-ip.ts";
import { createQueryModelEncoder } from "../offline/encoder/query-model.ts";

const root = resolve(import.meta.dirname, "..");
const { values: o } = parseArgs({
  options: {
    passages: { type: "string", default: "100000" },
    dim: { type: "string", default: "512" },
    distribution: { type: "string", default: "clustered" },
    "r2-latency-ms": { type: "string", default: "0" },
    "colo-latency-ms": { type: "string", default: "0" },
    queries: { type: "string", default: "data/demo/scifact/queries.jsonl" },
    index: { type: "string" },
    n: { type: "string", default: "200" },
    warmup: { type: "string", default: "50" },
    "worker-env": { type: "string" },
    mode: { type: "string", default: "hybrid" },
    "budget-mb": { type: "string", default: "64" },
    saturation: { type: "string", default: "10" },
    "cold-colo": { type: "boolean", default: false },
    "no-colo-keys": { type: "boolean", default: false },
    encoder: { type: "string" },
    "cold-runs": { type: "string", default: "1" },
    /** Partition count of a synthetic build (default: i3 build's, one per 1,024 passages); the index is build/scale-<distribution>-<N>-p<n>. */
    partitions: { type: "string" },
    json: { type: "boolean", default: false },
  },
});
const say = (m: string) => process.stderr.write(`bench-scale: ${m}\n`);
function fail(m: string): never {
  say(m);
  process.exit(2);
}
/** The integer value of `--flag`, at least `min`; else a clear message and exit 2. */
const wholeAtLeast = (flag: string, min: number): number => {
  const v = Number(o[flag as keyof typeof o]);
  if (!Number.isInteger(v) || v < min) fail(`--${flag} must be an integer >= ${min}, got ${o[flag as keyof typeof o]}`);
  return v;
};
const passages = wholeAtLeast("passages", 100), dim = wholeAtLeast("dim", 1), n = wholeAtLeast("n", 1), warmupN = wholeAtLeast("warmup", 0), latency = Number(o["r2-latency-ms"]), coloLatency = Number(o["colo-latency-ms"]);
wholeAtLeast("cold-runs", 1);
if (!["clustered", "uniform", "real"].includes(o.distribution!)) fail(`--distribution must be clustered, uniform or real`);
const ENCODERS: readonly string[] = [...QUERY_ENCODERS, "auto"];
if (o.encoder !== undefined && !ENCODERS.includes(o.encoder)) fail(`--encoder must be ${ENCODERS.join(", ")}, got ${o.encoder}`);
if (o.distribution === "real" && !o.index) fail("--distribution real needs --index <build dir>");
if (!(Number(o.saturation) >= 0)) fail(`--saturation must be a number of seconds >= 0, got ${o.saturation}`);
// The worker takes whole milliseconds up to a minute (src/worker/env.ts): refused here, before anything is built.
for (const [flag, v] of [["r2-latency-ms", latency], ["colo-latency-ms", coloLatency]] as const) {
  if (o[flag]!.trim() === "" || !Number.isInteger(v) || v < 0 || v > 60_000) fail(`--${flag} must be a whole number of ms in 0..60000, got ${JSON.stringify(o[flag])}`);
}
// --worker-env: an environment wrangler.toml declares ([env.<name>]).
const workerEnvs = [...readFileSync(join(root, "wrangler.toml"), "utf8").matchAll(/^\[env\.([A-Za-z0-9_-]+)\]\s*$/gm)].map((m) => m[1]);
if (o["worker-env"] !== undefined && !workerEnvs.includes(o["worker-env"])) fail(`--worker-env must be one of wrangler.toml's environments (${workerEnvs.join(", ") || "none"}), got ${JSON.stringify(o["worker-env"])}`);
if (!["dense", "lexical", "hybrid"].includes(o.mode!)) fail(`--mode must be dense, lexical or hybrid, got ${o.mode}`);
const partitionsFlag = o.partitions === undefined ? undefined : Number(o.partitions);
if (partitionsFlag !== undefined && (!Number.isInteger(partitionsFlag) || partitionsFlag < 1 || o.distribution === "real")) fail("--partitions must be an integer >= 1, for a synthetic index");
const MODEL = join(root, "models", JSON.parse(readFileSync(join(root, "models/default.json"), "utf8")).model);
let loadedModel: ReturnType<typeof loadModel> | undefined;
/** The default model, read and checked once per run. */
const theModel = () => (loadedModel ??= loadModel(MODEL));
const CENTRES = 1000;

function queryTexts(file: string): string[] {
  try {
    return readFileSync(resolve(root, file), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).text as string);
  } catch (e) {
    fail(`cannot read queries from ${file}: ${(e as Error).message}`);
  }
}

/**
 * The edge query model's vectors of `texts`, computed as the worker computes them (offline/encoder/query-model.ts:
 * the kernels where they take the model): the clustered centres, the plan's queries and the recall truth's.
 */
async function workerQueryVectors(texts: string[]): Promise<Float32Array> {
  const model = await theModel();
  const enc = await createQueryModelEncoder({ modelPath: model.queryPath, maxLen: model.sidecar.maxQueryTokens });
  const tok = createTokenizer(model.vocab);
  try {
    const out = new Float32Array(texts.length * dim);
    for (let i = 0; i < texts.length; i++) out.set(await enc.encode([tok.encode(texts[i])]), i * dim);
    return out;
  } finally {
    await enc.close();
  }
}

/** Seeded synthetic passages: vectors and their documents' texts. */
async function synthetic(texts: string[]): Promise<{ vectors: Float32Array; docs: string[] }> {
  const random = rng(42);
  const gauss = () => Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
  const centreTexts = split(texts).centres;
  const centres = o.distribution === "clustered" ? await workerQueryVectors(centreTexts) : new Float32Array(0);
  const words = texts.join(" ").toLowerCase().split(/\W+/).filter((w) => w.length > 2);
  const vectors = new Float32Array(passages * dim);
  const docs: string[] = new Array(passages);
  const sigma = 0.02; // per dimension: about cosine 0.9 between neighbours at 512 dims
  for (let i = 0; i < passages; i++) {
    const c = Math.floor(random() * centreTexts.length);
    const at = i * dim;
    for (let d = 0; d < dim; d++) vectors[at + d] = o.distribution === "clustered" ? centres[c * dim + d] + sigma * gauss() : gauss();
    const filler = Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]);
    docs[i] = `${centreTexts[c]} ${filler.join(" ")}`;
  }
  return { vectors: normalizeRows(vectors, dim), docs };
}

/** The partition count a synthetic build asks for: --partitions, else i3 build's default. */
const partitionsAsked = () => partitionsFlag ?? defaultPartitionCount(passages, dim);

/**
 * Whether the synthetic index in `dir` must be built: absent, built with another query model or dims than this run
 * encodes its queries with (its recall would be measured against the wrong vectors), or asked for another partition
 * count or partitioned by another rule than this run's (a build from before the rule was recorded included).
 */
async function staleSynthetic(dir: string): Promise<boolean> {
  if (!existsSync(join(dir, "manifest.json"))) return true;
  const m = (await openBuildDir(dir)).manifest;
  const model = await theModel();
  // The same query model, and its static tier (or none) as the model ships it now.
  const same = sharesQuery(model, m.model.query.sha256) && m.model.static?.sha256 === model.static?.sha256;
  // The partition count asked and the partition rule, as buildSynthetic records them (balancing and the build's
  // coarse fallback change the count built).
  const f = ((await readInfoJson(dir)) as { fingerprint?: { partitions?: number; partitionRule?: string } } | undefined)?.fingerprint;
  if (same && m.vectors.dim === dim && f?.partitionRule === PARTITION_RULE && f.partitions === partitionsAsked()) return false;
  say(`${dir} was built with another query model (or static tier), dims, partition count or partition rule: building it again`);
  return true;
}

/** Writes the synthetic index into build/scale-<distribution>-<passages>[-p<n>] (kept; reused while its model is current). */
async function buildSynthetic(out: string, texts: string[], planQueries: Float32Array, planCount: number): Promise<void> {
  const t0 = performance.now();
  const { vectors, docs } = await synthetic(texts);
  say(`generated ${passages} ${o.distribution} vectors in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const partial = `${out}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(join(partial, "objects"), { recursive: true });
  const store = createObjectStore(partial);
  const model = await theModel();
  const query = await store.write("model", model.queryBytes, { sha256: model.hashes.query });
  const vocab = await store.write("vocab", model.vocabBytes, { sha256: model.hashes.vocab });
  // The model's static query tier, as i3 build ships it ("encoder": "static" | "auto").
  const staticQuery = model.static && (await store.write("static", model.static.bytes, { sha256: model.static.sha256 }));
  const blocks: any[] = [];
  const docWriter = createDocBlockWriter({ store, docsPerBlock: 1024, onBlock: (b) => void blocks.push(b) });
  for (let i = 0; i < passages; i++) await docWriter.add({ id: `d${i}`, title: "", text: docs[i] });
  await docWriter.finish();
  const shards: any[] = [];
  const shardWriter = createShardWriter({ store, dim, shardSize: 8192, onShard: (s) => void shards.push(s.ref) });
  const docOf = Uint32Array.from({ length: passages }, (_, i) => i);
  await shardWriter.add(quantizeRows(vectors, dim, docOf));
  await shardWriter.finish();
  const lexical = await writeLexical(store, blocks, { fusion: { mode: "weighted", weight: 0.52, normalization: "tmm" } });
  // As i3 build: an int4 plan re-scores at least the dense candidates a hybrid search fuses (the default depth).
  const section = await writePartitions(store, vectors, docOf, dim, shards, { vectors: planQueries, count: planCount, source: "held-out synthetic queries (query model vectors of real query texts)" }, { minRefine: hybridWindow(searchOptions(lexical).depth), partitions: partitionsFlag }, say);
  const manifest = assembleManifest({
    id: `scale-${passages}`, documents: passages, passages, tokens: passages * 12, dim, normalized: true, modelName: model.sidecar.name,
    maxQueryTokens: model.sidecar.maxQueryTokens, query, vocab, ...(staticQuery ? { staticQuery } : {}), queryGraph: model.sidecar.edgeQueryGraph, window: 128, stride: 96,
    partitions: section.partitions, centroids: section.centroids, search: section.search, blocks, lexical,
  });
  // The partition count asked (balancing changes the count built) and the rule: what staleSynthetic compares.
  const info = { fingerprint: { synthetic: o.distribution, passages, dim, partitions: partitionsAsked(), partitionRule: PARTITION_RULE } as any, slice: null, firstDoc: 0, corpusDocuments: passages, tokens: passages * 12 };
  await finalizeBuild(store, out, manifest, info, true);
  say(`built ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Exact float32 top-10 documents of each query over the index's vectors (refine rows for real builds). */
async function exactTop10(dir: string, queries: Float32Array, count: number): Promise<string[][] | null> {
  const build = await openBuildDir(dir);
  const m = build.manifest;
  const rows = new Float32Array(m.corpus.passages * dim);
  const docOf = new Uint32Array(m.corpus.passages);
  const table = float16Table();
  let at = 0;
  for (const p of m.partitions) {
    if (!p.refine && m.partitions.length > 1) return null;
    for (const ref of p.shards) {
      const s = decodeShard(await build.readObject(ref));
      const f = p.refine ? decodeFloatRows("refine", await build.readObject(p.refine)).rows : undefined;
      for (let i = 0; i < s.header.count; i++, at++) {
        docOf[at] = s.ordinals[i];
        for (let d = 0; d < dim; d++) rows[at * dim + d] = f ? table[f[i * dim + d]] : s.vectors[i * dim + d] * s.scales[i];
      }
    }
  }
  const ids: string[] = [];
  for (const b of m.docs.blocks) for (const d of decodeDocBlock(await build.readObject(b))) ids.push(d.id);
  const topk = await createTopKIp(dim);
  const { indices } = await topk.search(queries, count, rows, at, 50);
  await topk.close();
  return Array.from({ length: count }, (_, q) => {
    const seen: string[] = [];
    for (let j = 0; j < 50 && seen.length < 10; j++) {
      const id = ids[docOf[indices[q * 50 + j]]];
      if (!seen.includes(id)) seen.push(id);
    }
    return seen;
  });
}


/**
 * The query texts, in four disjoint parts: the measured queries (the last n, at most a quarter), the plan's held-out
 * queries (up to 200 before them), warm-up queries (--warmup, default 50) and the cluster centres (the rest, up to 1,000).
 */
function split(texts: string[]) {
  const held = texts.slice(texts.length - Math.min(n, Math.floor(texts.length / 4)));
  const rest = texts.slice(0, texts.length - held.length);
  const plan = rest.slice(-Math.min(200, Math.floor(rest.length / 3)));
  const rest2 = rest.slice(0, rest.length - plan.length);
  // The centres as with the default 50 warm-up queries whatever --warmup is (the synthetic index stays the same);
  // the warm-up queries come from after them.
  const centres = rest2.slice(0, Math.min(CENTRES, rest2.length - Math.min(50, Math.floor(rest2.length / 4))));
  const after = rest2.slice(centres.length);
  const warmup = after.slice(after.length - Math.min(warmupN, after.length));
  if (held.length === 0 || plan.length === 0 || centres.length === 0) fail(`--queries ${o.queries}: too few queries (${texts.length})`);
  return { centres, plan, warmup, held };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const round = (x: number | null, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

/** One search from a client: its time and body (a non-2xx ends the benchmark). */
async function askOnce(url: string, key: string, query: string, mode = o.mode!): Promise<{ ms: number; body: any }> {
  const t0 = performance.now();
  const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ query, k: 10, mode, ...(o.encoder ? { encoder: o.encoder } : {}) }) });
  const body = (await res.json()) as any;
  const ms = performance.now() - t0;
  if (!res.ok) fail(`HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  return { ms, body };
}

async function main() {
  const texts = queryTexts(o.queries!);
  const dir = o.distribution === "real" ? resolve(o.index!) : join(root, "build", `scale-${o.distribution}-${passages}${partitionsFlag ? `-p${partitionsFlag}` : ""}`);
  const { centres, plan: planTexts, warmup, held } = split(texts);
  if (o.distribution !== "real" && (await staleSynthetic(dir))) {
    await buildSynthetic(dir, texts, await workerQueryVectors(planTexts), planTexts.length);
  }
  say(`${centres.length} centre texts, ${planTexts.length} plan queries, ${warmup.length} warm-up and ${held.length} measured queries`);
  const manifest = (await openBuildDir(dir)).manifest;
  const indexName = `scale-${o.distribution}-${manifest.corpus.passages}`;
  say(`publishing ${dir} as bench/${indexName} to the local R2`);
  const errs: string[] = [];
  if ((await runPublishCommand([dir, "--tenant", "bench", "--index", indexName, "--to", "local"], { err: (l) => errs.push(l), out: () => {} })) !== 0) fail(errs.join("\n"));
  let key = "";
  if ((await runKeysCommand(["create", "--tenant", "bench", "--roles", "search", "--json", "--to", "local"], { out: (l) => (key = JSON.parse(l).key), err: () => {} })) !== 0) fail("keys create failed");

  const truth = await exactTop10(dir, await workerQueryVectors(held), held.length);
  const vars = {
    SIMULATED_R2_LATENCY_MS: latency, SIMULATED_COLO_LATENCY_MS: coloLatency, CACHE_BUDGET_BYTES: Number(o["budget-mb"]) * 1024 * 1024, POINTER_TTL_MS: 60000,
    ...(o["no-colo-keys"] ? {} : { COLO_SHARE_SECRET: "bench-scale-colo-share-secret-0123456789" }),
  };
  // --cold-runs n: the first query of n fresh workers (the first n - 1 each stopped after it), a median, not one sample.
  // Each a query this colo has never seen (a random word added): its vector is in no cache, so a new isolate either
  // waits for its query model or (--encoder auto, an index with a static tier) answers with the static tier.
  const fresh = (text: string) => `${text} q${Math.random().toString(36).slice(2, 10)}`;
  /** The first query of a fresh worker (stopped after it). */
  const coldOnce = async (query: string) => {
    // --cold-colo: empty the local colo cache first, so the cold query reads everything from R2 (a new colo).
    if (o["cold-colo"]) await rm(join(root, ".wrangler/state/v3/cache"), { recursive: true, force: true });
    const w = await startLocalWorker({ root, vars, env: o["worker-env"] });
    try {
      return await askOnce(`${w.base}/v1/tenants/bench/indexes/${indexName}/search`, key, query);
    } finally {
      await w.stop();
    }
  };
  const colds: number[] = [];
  const coldRuns = Number(o["cold-runs"]);
  if (coldRuns > held.length) fail(`--cold-runs ${coldRuns}: at most the ${held.length} measured queries`);
  for (let r = 0; r < coldRuns - 1; r++) colds.push((await coldOnce(fresh(held[held.length - 1 - r]))).ms);
  if (o["cold-colo"]) await rm(join(root, ".wrangler/state/v3/cache"), { recursive: true, force: true });
  else say(`query vectors of earlier runs taken out of the local colo cache: ${forgetQueryVectors(join(root, ".wrangler/state/v3/cache"))}`);
  const worker = await startLocalWorker({ root, vars, env: o["worker-env"] });
  say(`wrangler dev at ${worker.base}, log ${worker.log}`);
  const base = worker.base;
  try {
    const url = `${base}/v1/tenants/bench/indexes/${indexName}/search`;
    const ask = (query: string, mode = o.mode!) => askOnce(url, key, query, mode);
    const cold = await ask(fresh(held[0]));
    colds.push(cold.ms);
    const health: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      await fetch(`${base}/healthz`).then((r) => r.text());
      health.push(performance.now() - t0);
    }
    // Warm: a first pass loads what the queries probe; the second pass over other texts is measured. Earlier runs'
    // query vectors were taken out of the local colo cache before this worker started, so the query model runs for
    // each measured text, as for a user's new query (`warmEncoded` says where the vectors came from).
    for (const q of warmup) await ask(q);
    const warm: number[] = [], reads: number[] = [], colo: number[] = [];
    const warmEncoded: Record<string, number> = {};
    let recallHits = 0, recallTotal = 0;
    for (let i = 0; i < held.length; i++) {
      const r = await ask(held[i]);
      warm.push(r.ms);
      const from = r.body.query?.encoded ?? r.body.query?.encoder ?? "none";
      warmEncoded[from] = (warmEncoded[from] ?? 0) + 1;
      reads.push(r.body.reads.r2);
      colo.push(r.body.reads.colo);
      if (truth) {
        const d = await ask(held[i], "dense");
        const got = new Set(d.body.results.map((x: any) => x.id));
        recallHits += truth[i].filter((id) => got.has(id)).length;
        recallTotal += truth[i].length;
      }
    }
    const repeated: number[] = [];
    for (let i = 0; i < held.length; i++) repeated.push((await ask(held[i])).ms);
    // Saturation: 8 clients for --saturation seconds.
    let done = 0;
    const until = performance.now() + Number(o.saturation) * 1000;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 8 }, async (_, c) => {
      for (let i = c; performance.now() < until; i += 8) {
        await ask(held[i % held.length] + (i >= held.length ? ` ${i}` : ""));
        done++;
      }
    }));
    const qps = done / ((performance.now() - t0) / 1000);
    const healthP50 = pct(health, 50);
    const result = {
      passages: manifest.corpus.passages, dim: manifest.vectors.dim, distribution: o.distribution, mode: o.mode,
      partitions: manifest.partitions.length, probe: manifest.search.probe ?? null, refine: manifest.search.refine ?? 0, planScan: manifest.search.scan ?? "int8",
      planRecallAt10: manifest.search.plan?.recallAt10 ?? null,
      recallAt10: truth ? round(recallHits / recallTotal, 4) : null,
      workerEnv: o["worker-env"] ?? null, r2LatencyMs: latency, coloLatencyMs: coloLatency, warmup: warmup.length, budgetMb: Number(o["budget-mb"]), coldColo: o["cold-colo"], coloKeys: !o["no-colo-keys"], encoder: o.encoder ?? null, coldEncoder: cold.body.query?.encoder ?? null,
      healthzP50Ms: round(healthP50), coldMs: round(pct(colds, 50)), coldRunsMs: colds.map((x) => round(x)), coldReads: cold.body.reads,
      warmP50Ms: round(pct(warm, 50)), warmP99Ms: round(pct(warm, 99)),
      warmP50OverFloorMs: round(pct(warm, 50) - healthP50), warmP99OverFloorMs: round(pct(warm, 99) - healthP50), warmEncoded,
      repeatedP50OverFloorMs: round(pct(repeated, 50) - healthP50),
      r2ReadsPerQuery: round(reads.reduce((a, b) => a + b, 0) / reads.length, 2), coloReadsPerQuery: round(colo.reduce((a, b) => a + b, 0) / colo.length, 2),
      saturationQps: round(qps), peakWorkerdMb: worker.peakRssMb(), queries: held.length,
    };
    await worker.stop();
    // A repeated query in a new isolate: one the colo has seen (the warm pass asked it), whose query vector it holds.
    if (!o["cold-colo"]) {
      const repeats = [];
      for (let r = 0; r < coldRuns; r++) repeats.push(await coldOnce(held[r]));
      Object.assign(result, {
        coldRepeatMs: round(pct(repeats.map((x) => x.ms), 50)), coldRepeatRunsMs: repeats.map((x) => round(x.ms)),
        coldRepeatEncoded: repeats[0].body.query?.encoded ?? repeats[0].body.query?.encoder ?? null,
      });
    }
    say(JSON.stringify(result, null, 1));
    process.stdout.write(JSON.stringify(result) + "\n");
  } finally {
    await worker.stop();
  }
}

main().catch((e) => fail((e as Error).stack ?? String(e)));

/**
 * Deletes the query vectors (`qvec/` keys) that earlier runs left in the local colo cache (miniflare's cache store,
 * SQLite), so that a measured query is new to the colo; the other entries stay. Returns how many went, or why none.
 */
function forgetQueryVectors(cacheDir: string): string {
  const dir = join(cacheDir, "miniflare-CacheObject");
  if (!existsSync(dir)) return "0 (no colo cache yet)";
  try {
    const { DatabaseSync } = createRequire(import.meta.url)("node:sqlite") as typeof import("node:sqlite");
    let n = 0;
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")) {
      const db = new DatabaseSync(join(dir, f));
      try {
        n += Number(db.prepare("DELETE FROM _mf_entries WHERE key LIKE '%/qvec/%'").run().changes);
      } finally {
        db.close();
      }
    }
    return String(n);
  } catch (e) {
    return `none (${(e as Error).message}): warm queries the colo has seen take its vectors`;
  }
}
