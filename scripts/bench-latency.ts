/**
 * Client-side latency of the search endpoint (inside a Worker the clock does not move during CPU work, so
 * latency is measured here, from outside).
 *
 *   npm run bench:latency -- [--url http://127.0.0.1:8787/v1/tenants/demo/indexes/scifact]
 *       [--queries data/demo/scifact/queries.jsonl] [--n 200] [--k 10] [--concurrency 1] [--spawn] [--mode dense]
 *
 * With --spawn it starts its own `wrangler dev` (a fresh isolate) on a free port against the local R2 state,
 * so the first request is a true cold start: the isolate loads the manifest, query model and shards from R2.
 * An API key, when the deployment requires one, comes from the I3_API_KEY environment variable.
 * Prints cold latency (first request), then warm p50/p90/p99/mean over --n requests, and throughput.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { startLocalWorker, type LocalWorker } from "../offline/local-worker.ts";

const root = resolve(import.meta.dirname, "..");
const { values: o } = parseArgs({
  options: {
    url: { type: "string" },
    queries: { type: "string", default: "data/demo/scifact/queries.jsonl" },
    n: { type: "string", default: "200" },
    k: { type: "string", default: "10" },
    concurrency: { type: "string", default: "1" },
    spawn: { type: "boolean", default: false },
    mode: { type: "string" },
    tenant: { type: "string", default: "demo" },
    index: { type: "string", default: "scifact" },
  },
});

function fail(msg: string): never {
  console.error(`bench-latency: ${msg}`);
  process.exit(2);
}

const n = Number(o.n), k = Number(o.k), concurrency = Number(o.concurrency);
if (!Number.isInteger(n) || n < 1) fail(`--n must be a positive integer, got ${o.n}`);
if (!Number.isInteger(concurrency) || concurrency < 1) fail(`--concurrency must be a positive integer, got ${o.concurrency}`);
let texts: string[];
try {
  texts = readFileSync(resolve(root, o.queries!), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).text);
} catch (e) {
  fail(`cannot read queries from ${o.queries}: ${(e as Error).message}`);
}

async function searchOnce(url: string, query: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/search`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(process.env.I3_API_KEY ? { authorization: `Bearer ${process.env.I3_API_KEY}` } : {}),
    },
    body: JSON.stringify({ query, k, ...(o.mode ? { mode: o.mode } : {}) }),
  });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (!res.ok) fail(`HTTP ${res.status}: ${body.slice(0, 200)}`);
  return ms;
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main() {
  let worker: LocalWorker | null = null;
  let url = o.url;
  if (o.spawn) {
    worker = await startLocalWorker({ root });
    url ??= `${worker.base}/v1/tenants/${o.tenant}/indexes/${o.index}`;
  }
  url ??= `http://127.0.0.1:8787/v1/tenants/${o.tenant}/indexes/${o.index}`;
  try {
    const cold = await searchOnce(url, texts[0]);
    const times: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          const i = next++;
          times.push(await searchOnce(url!, texts[(i + 1) % texts.length]));
        }
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    console.log(`endpoint ${url}  k=${k}${o.mode ? ` mode=${o.mode}` : ""}  concurrency=${concurrency}`);
    console.log(`${o.spawn ? "cold (fresh isolate, first request)" : "first request"}: ${cold.toFixed(1)} ms`);
    console.log(
      `warm over ${n} requests: p50 ${pct(times, 50).toFixed(1)} ms  p90 ${pct(times, 90).toFixed(1)} ms  ` +
        `p99 ${pct(times, 99).toFixed(1)} ms  mean ${mean.toFixed(1)} ms  throughput ${(n / wall).toFixed(1)} req/s`,
    );
  } finally {
    await worker?.stop();
  }
}

main().catch((e) => fail(e.message));
