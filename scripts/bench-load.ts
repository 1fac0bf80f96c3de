/**
 * The load benchmark: a fresh `wrangler dev` over its own local R2, driven for --seconds by --concurrency clients with
 * a mix of valid, invalid and oversized requests, while `i3 publish` and `i3 rollback` move the same index between two
 * versions. Prints one JSON line with the counts (and a readable summary on stderr); exits 1 on any 5xx, wrong result
 * or unexpected status.
 *
 *   npm run bench:load -- [--seconds 60] [--concurrency 16] [--index test/.cache/mini-index] [--swap-ms 2000]
 *       [--queries data/demo/scifact/queries.jsonl] [--seed 1] [--only valid,fresh,...] [--port <n>]
 *
 * Versions: A is the build directory --index; B is the same objects under a manifest whose default hybrid fusion
 * weight differs (a new version id, different hybrid rankings). Before the load, each version is made current in turn
 * and every checked request is answered once, quietly: that answer (ids, scores, mode) is the version's expected one.
 * Under load every 200 of a checked request must equal the expected answer of the version it names; "fresh" requests
 * (queries never seen, so ranked and not served from the isolate's result cache) must be 200, name A or B, and hold
 * k results in score order. Invalid requests (bad JSON, wrong types, bad names, bad or missing keys, unknown fields,
 * wrong method, unknown index) and oversized ones (Content-Length and chunked) must get their own 4xx.
 * Memory: workerd's resident set (all its processes), sampled every 500 ms. The local R2 is a temporary directory,
 * removed at the end; the wrangler process group is killed at the end.
 * Statuses: 0 is a client that saw the connection reset after the worker refused a body it had not read (counted as
 * the expected 413); `fiveXxDevProxy` counts 5xx that are not the app's JSON errors but wrangler dev's own proxy
 * (miniflare's entry worker: "Network connection lost"), which happens when the worker cancels a chunked body it
 * refused. Such a fault also hits other requests in flight through the same proxy (about 1 in 2,000 requests while
 * oversized bodies are in the mix; none in runs without them), so a request that gets one, or a connection closed under
 * it where no 413 was due, is sent once more and the retry is what is judged: `devProxyRetries` counts them. The app's
 * own errors (JSON with a code) are never retried, and a fault that repeats is judged as it is.
 * `--only <classes>` runs a subset of the mix (e.g. `--only valid,oversized_chunked`).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { openBuildDir } from "../offline/build/build-dir.ts";
import { LIMITS } from "../src/worker/routes/search-request.ts";
import { startLocalWorker, type LocalWorker } from "../offline/local-worker.ts";
import { runKeysCommand } from "../offline/keys/cli.ts";
import { runPublishCommand } from "../offline/publish/cli.ts";
import { runVersionsCommand } from "../offline/publish/versions-cli.ts";
import { rng } from "../src/random.ts";

const root = resolve(import.meta.dirname, "..");
const { values: o } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    concurrency: { type: "string", default: "16" },
    index: { type: "string", default: "test/.cache/mini-index" },
    "swap-ms": { type: "string", default: "2000" },
    queries: { type: "string", default: "data/demo/scifact/queries.jsonl" },
    seed: { type: "string", default: "1" },
    only: { type: "string" },
    port: { type: "string" },
  },
});
const say = (m: string) => process.stderr.write(`bench-load: ${m}\n`);
function fail(m: string): never {
  say(m);
  process.exit(2);
}
const seconds = Number(o.seconds), concurrency = Number(o.concurrency), swapMs = Number(o["swap-ms"]);
if (!(seconds > 0)) fail(`--seconds must be a positive number, got ${o.seconds}`);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) fail(`--concurrency must be an integer from 1 to 1024, got ${o.concurrency}`);
if (!(swapMs >= 100)) fail(`--swap-ms must be at least 100, got ${o["swap-ms"]}`);
const dirA = resolve(root, o.index!);
if (!existsSync(join(dirA, "manifest.json"))) fail(`${o.index}: no manifest.json (the default is built by \`npm run test:worker\`'s global setup)`);

const TENANT = "load", INDEX = "docs";
const MODES = ["dense", "lexical", "hybrid"] as const;

/** One request of the mix: its class, how to send it, and the status it must get. */
interface Probe {
  cls: string;
  expect: number;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: () => BodyInit;
  /** Checked requests: the key of the expected answer. */
  check?: string;
  /** Fresh requests: the k the answer must hold. */
  fresh?: number;
}

// ---------------------------------------------------------------------------------------------------------- setup

/** Version B: A's objects under a manifest with another default fusion weight (a new version, other hybrid ranks). */
function makeVersionB(tmp: string): string {
  const dirB = join(tmp, "build-b");
  cpSync(dirA, dirB, { recursive: true, filter: (src) => !src.startsWith(join(dirA, "objects")) });
  symlinkSync(join(dirA, "objects"), join(dirB, "objects"));
  const m = JSON.parse(readFileSync(join(dirA, "manifest.json"), "utf8"));
  if (!m.lexical?.fusion) fail(`${o.index}: the index has no lexical section; the benchmark needs hybrid rankings`);
  m.id = `${m.id}-load-b`;
  m.lexical.fusion = { ...m.lexical.fusion, mode: "weighted", weight: m.lexical.fusion.weight > 0.5 ? 0.2 : 0.8 };
  writeFileSync(join(dirB, "manifest.json"), JSON.stringify(m, null, 2));
  return dirB;
}

/** Runs an `i3` command in process against the benchmark's local R2; returns its exit code and output. */
async function i3(run: (argv: string[], io: any) => Promise<number>, argv: string[], persist: string): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const code = await run([...argv, "--to", "local", "--persist-to", persist], { out: (l: string) => out.push(l), err: (l: string) => err.push(l) });
  return { code, out, err };
}

const publish = (dir: string, persist: string) => i3((a, io) => runPublishCommand(a, io), [dir, "--tenant", TENANT, "--index", INDEX, "-q"], persist);
const rollback = (version: string, persist: string) =>
  i3((a, io) => runVersionsCommand("rollback", a, io), ["--tenant", TENANT, "--index", INDEX, "--to-version", version], persist);

async function createKeyLocal(roles: string, persist: string): Promise<string> {
  const r = await i3((a, io) => runKeysCommand(a, io), ["create", "--tenant", TENANT, "--roles", roles, "--json"], persist);
  if (r.code !== 0) fail(`keys create: ${r.err.join("\n")}`);
  return JSON.parse(r.out[0]).key;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------- the mix

function queryTexts(file: string): string[] {
  try {
    return readFileSync(resolve(root, file), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).text as string);
  } catch (e) {
    fail(`cannot read queries from ${file}: ${(e as Error).message}`);
  }
}

/** The checked requests: query x mode x k, each with a key for its expected answer. */
function checkedBodies(texts: string[]): Array<{ key: string; body: string }> {
  const out: Array<{ key: string; body: string }> = [];
  for (const q of texts.slice(0, 20)) for (const mode of MODES) for (const k of [3, 10]) {
    const body = JSON.stringify({ query: q, k, mode });
    out.push({ key: body, body });
  }
  return out;
}

/** The mix, by weight: what each client draws from. */
function mix(keys: { search: string; publish: string }, checked: Array<{ key: string; body: string }>, fresh: string[]) {
  const search = `/v1/tenants/${TENANT}/indexes/${INDEX}/search`;
  const auth = { authorization: `Bearer ${keys.search}`, "content-type": "application/json" };
  const json = (v: unknown) => () => JSON.stringify(v);
  const random = rng(Number(o.seed));
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const oversized = "x".repeat(LIMITS.maxBodyBytes + 1024); // over the search route's body limit
  const probes: Array<[number, () => Probe]> = [
    [40, () => { const c = pick(checked); return { cls: "valid", expect: 200, headers: auth, body: () => c.body, check: c.key }; }],
    [15, () => { const k = pick([5, 10]); const q = `${pick(fresh)} ${pick(fresh).split(" ")[0]} ${Math.floor(random() * 1e9)}`; return { cls: "fresh", expect: 200, headers: auth, body: json({ query: q, k, mode: pick([...MODES]) }), fresh: k }; }],
    [5, () => ({ cls: "bad_json", expect: 400, headers: auth, body: () => '{"query": "vitamin", ' })],
    [5, () => ({ cls: "wrong_type", expect: 400, headers: auth, body: json(pick([{ query: 5 }, { query: "x", k: "ten" }, { query: "x", k: 1000 }, [], { query: "x", mode: "neural" }])) })],
    [4, () => ({ cls: "unknown_field", expect: 400, headers: auth, body: json({ query: "x", [`f${"z".repeat(200)}`]: 1 }) })],
    [5, () => ({ cls: "bad_name", expect: 400, path: pick([`/v1/tenants/${TENANT}/indexes/Bad.Name/search`, `/v1/tenants/${TENANT}/indexes/${"n".repeat(300)}/search`, `/v1/tenants/${TENANT}/indexes/UPPER/search`]), headers: auth, body: json({ query: "x" }) })],
    [4, () => ({ cls: "bad_key", expect: 401, headers: { ...auth, authorization: pick(["Bearer nope", `Bearer i3_${TENANT}_${"0".repeat(16)}_${"a".repeat(64)}`, `Bearer ${keys.search.slice(0, -1)}${keys.search.endsWith("0") ? "1" : "0"}`]) }, body: json({ query: "x" }) })],
    [3, () => ({ cls: "no_key", expect: 401, headers: { "content-type": "application/json" }, body: json({ query: "x" }) })],
    [3, () => ({ cls: "wrong_role", expect: 403, headers: { ...auth, authorization: `Bearer ${keys.publish}` }, body: json({ query: "x" }) })],
    [3, () => ({ cls: "wrong_method", expect: 405, method: "GET", headers: auth })],
    [3, () => ({ cls: "unknown_index", expect: 404, path: `/v1/tenants/${TENANT}/indexes/nothing-here/search`, headers: auth, body: json({ query: "x" }) })],
    [5, () => ({ cls: "oversized", expect: 413, headers: auth, body: () => oversized })],
    [3, () => ({ cls: "oversized_chunked", expect: 413, headers: auth, body: () => chunkedBody(Math.max(1024 * 1024, 2 * LIMITS.maxBodyBytes)) })],
    [2, () => ({ cls: "admin_oversized", expect: 413, method: "PUT", path: `/v1/tenants/${TENANT}/indexes/${INDEX}/current`, headers: { authorization: `Bearer ${keys.publish}` }, body: () => chunkedBody(256 * 1024) })],
  ];
  if (o.only) {
    const keep = new Set(o.only.split(","));
    for (const p of probes) if (!keep.has(p[1]().cls)) p[0] = 0;
  }
  const total = probes.reduce((s, [w]) => s + w, 0);
  return (): Probe => {
    let r = random() * total;
    for (const [w, make] of probes) if ((r -= w) < 0) return { path: search, method: "POST", ...make() };
    return { path: search, method: "POST", ...probes[0][1]() };
  };
}

/** A body of `bytes` spaces without Content-Length (chunked), produced as it is read. */
function chunkedBody(bytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  const chunk = new Uint8Array(16 * 1024).fill(0x20);
  return new ReadableStream({
    pull(c) {
      if (sent >= bytes) return c.close();
      sent += chunk.length;
      c.enqueue(chunk);
    },
  });
}

/** What a checked answer is compared on: its version, mode and ranked ids and scores. */
const canonical = (b: any) => JSON.stringify({ mode: b.mode, results: b.results.map((r: any) => [r.id, r.score, r.scores]) });

// ---------------------------------------------------------------------------------------------------------- running

async function send(base: string, p: Probe): Promise<{ status: number; body: any; ms: number }> {
  const t0 = performance.now();
  const body = p.body?.();
  const init: RequestInit & { duplex?: string } = { method: p.method, headers: p.headers, body };
  if (body instanceof ReadableStream) init.duplex = "half";
  try {
    const res = await fetch(base + p.path, init);
    const text = await res.text();
    let parsed: any = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, ms: performance.now() - t0 };
  } catch (e) {
    // A server that hangs up on a body it refused is fine (it answered first, or the client saw a reset).
    return { status: 0, body: String((e as Error).cause ?? e), ms: performance.now() - t0 };
  }
}

/**
 * Whether an answer is wrangler dev's proxy failing rather than the worker answering: a 5xx that is not the app's
 * JSON error (miniflare's entry worker: "Network connection lost"), or a connection closed under a request that was
 * not refused for its size.
 */
function devProxyFault(p: Probe, res: { status: number; body: any }): boolean {
  if (res.status >= 500) return typeof res.body?.error?.code !== "string";
  return res.status === 0 && p.expect !== 413;
}

/** Sends `p`, once more when the dev proxy failed under it (see devProxyFault); `retried` counts those. */
async function sendJudged(base: string, p: Probe, retried: { n: number }): Promise<{ status: number; body: any; ms: number }> {
  const res = await send(base, p);
  if (!devProxyFault(p, res)) return res;
  retried.n++;
  await sleep(50);
  return send(base, p);
}

/** The expected answers of every checked request, per version: each version made current, then asked quietly. */
async function expectedAnswers(base: string, key: string, versions: Record<string, string>, checked: Array<{ key: string; body: string }>, persist: string) {
  const expected = new Map<string, Map<string, string>>();
  for (const [name, version] of Object.entries(versions)) {
    const r = await rollback(version, persist);
    if (r.code !== 0 && !r.err.join(" ").includes("already")) fail(`rollback to ${name}: ${r.err.join("\n")}`);
    const headers = { authorization: `Bearer ${key}`, "content-type": "application/json" };
    for (let i = 0; ; i++) {
      const res = await send(base, { cls: "x", expect: 200, path: `/v1/tenants/${TENANT}/indexes/${INDEX}/search`, method: "POST", headers, body: () => checked[0].body });
      if (res.status === 200 && res.body.version === version) break;
      if (i > 100) fail(`the worker does not serve version ${name} (${version}): ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      await sleep(200);
    }
    const answers = new Map<string, string>();
    for (const c of checked) {
      const res = await send(base, { cls: "x", expect: 200, path: `/v1/tenants/${TENANT}/indexes/${INDEX}/search`, method: "POST", headers, body: () => c.body });
      if (res.status !== 200 || res.body.version !== version) fail(`expected answer for ${c.key} (${name}): ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      answers.set(c.key, canonical(res.body));
    }
    expected.set(version, answers);
  }
  return expected;
}

/** Moves the pointer every `swapMs` until `until`: rollbacks to A and B, and full publishes of either build. */
async function swapper(until: number, dirs: Record<string, string>, versions: Record<string, string>, persist: string) {
  const counts = { publishes: 0, rollbacks: 0, failed: 0, errors: [] as string[] };
  const steps = [
    () => rollback(versions.A, persist).then((r) => ({ r, kind: "rollbacks" as const })),
    () => publish(dirs.B, persist).then((r) => ({ r, kind: "publishes" as const })),
    () => rollback(versions.A, persist).then((r) => ({ r, kind: "rollbacks" as const })),
    () => rollback(versions.B, persist).then((r) => ({ r, kind: "rollbacks" as const })),
    () => publish(dirs.A, persist).then((r) => ({ r, kind: "publishes" as const })),
  ];
  for (let i = 0; performance.now() < until; i++) {
    const { r, kind } = await steps[i % steps.length]();
    if (r.code === 0) counts[kind]++;
    else {
      counts.failed++;
      if (counts.errors.length < 5) counts.errors.push(r.err.join(" ").slice(0, 300));
    }
    await sleep(swapMs);
  }
  return counts;
}

interface Tally {
  requests: number;
  byClass: Record<string, { n: number; statuses: Record<string, number> }>;
  fiveXx: number;
  /** 5xx that are not the app's JSON errors: wrangler dev's own proxy (miniflare's entry worker) answering. */
  fiveXxDevProxy: number;
  unexpected: number;
  wrongResults: number;
  servedVersions: Record<string, number>;
  samples: string[];
  ms: number[];
}

function judge(t: Tally, p: Probe, res: { status: number; body: any; ms: number }, expected: Map<string, Map<string, string>>, names: Record<string, string>) {
  t.requests++;
  t.ms.push(res.ms);
  const c = (t.byClass[p.cls] ??= { n: 0, statuses: {} });
  c.n++;
  c.statuses[res.status] = (c.statuses[res.status] ?? 0) + 1;
  const note = (what: string) => { if (t.samples.length < 10) t.samples.push(`${p.cls}: ${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`); };
  if (res.status >= 500) {
    t.fiveXx++;
    if (devProxyFault(p, res)) t.fiveXxDevProxy++;
    note("5xx");
  }
  // A refused oversized body may be answered and the connection closed before the client finished sending (status 0).
  const ok = res.status === p.expect || (p.expect === 413 && res.status === 0);
  if (!ok) {
    t.unexpected++;
    note(`expected ${p.expect}`);
    return;
  }
  if (res.status !== 200) return;
  const version = res.body.version;
  t.servedVersions[names[version] ?? version] = (t.servedVersions[names[version] ?? version] ?? 0) + 1;
  if (p.check !== undefined) {
    const want = expected.get(version)?.get(p.check);
    if (want === undefined || want !== canonical(res.body)) {
      t.wrongResults++;
      note("wrong result");
    }
  } else if (p.fresh !== undefined) {
    const scores = res.body.results.map((r: any) => r.score);
    const sorted = scores.every((s: number, i: number) => i === 0 || scores[i - 1] >= s);
    // Lexical answers hold only documents that match a term: up to k; dense and hybrid ones exactly k.
    const n = res.body.results.length;
    const sized = res.body.mode === "lexical" ? n <= p.fresh : n === p.fresh;
    if (!expected.has(version) || !sized || !sorted) {
      t.wrongResults++;
      note("malformed fresh result");
    }
  }
}

const pct = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : null);
const round = (x: number | null, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), "bench-load-"));
  const persist = join(tmp, "state");
  const dirB = makeVersionB(tmp);
  let worker: LocalWorker | undefined;
  try {
    say(`publishing ${o.index} (A) and its variant (B) as ${TENANT}/${INDEX} to the local R2 in ${persist}`);
    const versions: Record<string, string> = {};
    for (const [name, dir] of [["A", dirA], ["B", dirB]] as const) {
      const r = await publish(dir, persist);
      if (r.code !== 0) fail(`publish ${name}: ${r.err.join("\n")}`);
      versions[name] = (await openBuildDir(dir)).version;
    }
    const names = Object.fromEntries(Object.entries(versions).map(([k, v]) => [v, k]));
    const keys = { search: await createKeyLocal("search", persist), publish: await createKeyLocal("publish", persist) };

    worker = await startLocalWorker({ root, persistTo: persist, port: o.port ? Number(o.port) : undefined, vars: { POINTER_TTL_MS: 500, KEY_CACHE_TTL_MS: 30000, AUTH_FAILURES_PER_MINUTE: 1000000 } });
    const base = worker.base;
    const log = worker.log;
    say(`wrangler dev at ${base}, log ${log}`);

    const texts = queryTexts(o.queries!);
    const checked = checkedBodies(texts);
    const expected = await expectedAnswers(base, keys.search, versions, checked, persist);
    const differ = checked.filter((c) => expected.get(versions.A)!.get(c.key) !== expected.get(versions.B)!.get(c.key)).length;
    say(`expected answers: ${checked.length} checked requests per version, ${differ} differ between A and B`);

    const next = mix(keys, checked, texts.slice(20));
    const tally: Tally = { requests: 0, byClass: {}, fiveXx: 0, fiveXxDevProxy: 0, unexpected: 0, wrongResults: 0, servedVersions: {}, samples: [], ms: [] };
    const retried = { n: 0 };
    const rss: number[] = [];
    const sampler = setInterval(() => rss.push(worker!.rssMb()), 500);
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    const swaps = swapper(until, { A: dirA, B: dirB }, versions, persist);
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const p = next();
        judge(tally, p, await sendJudged(base, p, retried), expected, names);
      }
    }));
    const elapsed = (performance.now() - t0) / 1000;
    const swapCounts = await swaps;
    clearInterval(sampler);
    rss.push(worker.rssMb());

    const result = {
      seconds: round(elapsed), concurrency, requests: tally.requests, rps: round(tally.requests / elapsed),
      p50Ms: round(pct(tally.ms, 50)), p99Ms: round(pct(tally.ms, 99)),
      fiveXx: tally.fiveXx, fiveXxDevProxy: tally.fiveXxDevProxy, devProxyRetries: retried.n, wrongResults: tally.wrongResults, unexpectedStatus: tally.unexpected,
      byClass: Object.fromEntries(Object.entries(tally.byClass).sort().map(([k, v]) => [k, v])),
      servedVersions: tally.servedVersions, checkedDifferAB: differ, checkedPerVersion: checked.length,
      publishes: swapCounts.publishes, rollbacks: swapCounts.rollbacks, swapFailures: swapCounts.failed,
      workerdRssMbStart: round(rss[0]), workerdRssMbPeak: round(Math.max(...rss)), workerdRssMbEnd: round(rss[rss.length - 1]),
    };
    for (const s of tally.samples) say(`sample: ${s}`);
    for (const e of swapCounts.errors) say(`swap failure: ${e}`);
    say(JSON.stringify(result, null, 1));
    process.stdout.write(JSON.stringify(result) + "\n");
    say(`wrangler log: ${log}`);
    if (process.env.BENCH_LOAD_KEEP_LOG) cpSync(log, process.env.BENCH_LOAD_KEEP_LOG);
    process.exitCode = tally.fiveXx || tally.wrongResults || tally.unexpected || swapCounts.failed ? 1 : 0;
  } finally {
    await worker?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => fail((e as Error).stack ?? String(e)));
