/**
 * Endpoint mode: POST each query to `${url}/search` with {"query": text, "k": K} and read
 * {"results": [{"id", "score", ...}], ...}. Bounded concurrency; retries with backoff on 5xx, 429 and
 * network errors; a 4xx other than 429 fails at once with the body. The first query is sent alone, so a
 * down endpoint gives one clear error instead of N.
 */
import type { Hit, Run } from "./metrics.ts";

export interface EndpointOptions {
  url: string;
  k: number;
  concurrency: number;
  retries?: number;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  log?: (msg: string) => void;
  /** base backoff in ms (doubles per retry) */
  backoffMs?: number;
  /** extra request fields (mode, fusion, weight) */
  body?: Record<string, unknown>;
}

export class EndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EndpointError";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function searchOne(q: { id: string; text: string }, o: Required<Omit<EndpointOptions, "log">> & { log: (m: string) => void }): Promise<Hit[]> {
  const target = `${o.url}/search`;
  let lastErr = "";
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    if (attempt > 0) await sleep(o.backoffMs * 2 ** (attempt - 1));
    let res: Response;
    try {
      res = await o.fetchImpl(target, {
        method: "POST",
        // An API key from the environment (I3_API_KEY), never from argv where `ps` would show it.
        headers: {
          "content-type": "application/json",
          ...(process.env.I3_API_KEY ? { authorization: `Bearer ${process.env.I3_API_KEY}` } : {}),
        },
        body: JSON.stringify({ query: q.text, k: o.k, ...o.body }),
        signal: AbortSignal.timeout(o.timeoutMs),
      });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      lastErr = `${err.cause?.code ?? err.name}: ${err.cause?.message ?? err.message}`;
      continue;
    }
    const body = await res.text();
    if (res.status >= 500 || res.status === 429) {
      lastErr = `HTTP ${res.status}: ${body.slice(0, 300)}`;
      continue;
    }
    if (!res.ok) throw new EndpointError(`${target} answered HTTP ${res.status} for query ${q.id}: ${body.slice(0, 500)}`);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new EndpointError(`${target}: response for query ${q.id} is not JSON: ${body.slice(0, 200)}`);
    }
    const results = (json as { results?: unknown }).results;
    if (!Array.isArray(results)) throw new EndpointError(`${target}: response for query ${q.id} has no "results" array`);
    return results.map((r, i) => {
      const id = (r as { id?: unknown }).id;
      const score = (r as { score?: unknown }).score;
      if ((typeof id !== "string" && typeof id !== "number") || typeof score !== "number") {
        throw new EndpointError(`${target}: query ${q.id} result ${i} lacks a string "id" and numeric "score"`);
      }
      return { id: String(id), score };
    });
  }
  throw new EndpointError(`${target} failed for query ${q.id} after ${o.retries + 1} attempts (is the endpoint up?): ${lastErr}`);
}

export async function endpointRun(queries: Array<{ id: string; text: string }>, opts: EndpointOptions): Promise<Run> {
  const o = {
    retries: 3,
    timeoutMs: 30_000,
    fetchImpl: fetch,
    backoffMs: 250,
    body: {},
    log: (m: string) => process.stderr.write(m + "\n"),
    ...opts,
  };
  const run: Run = new Map();
  if (queries.length === 0) return run;
  run.set(queries[0].id, await searchOne(queries[0], o));
  let next = 1;
  let done = 1;
  const t0 = performance.now();
  const worker = async () => {
    while (next < queries.length) {
      const q = queries[next++];
      run.set(q.id, await searchOne(q, o));
      if (++done % 100 === 0) o.log(`  ${done}/${queries.length} queries, ${(done / ((performance.now() - t0) / 1000)).toFixed(1)} q/s`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
  // keep query order
  return new Map(queries.map((q) => [q.id, run.get(q.id)!]));
}
