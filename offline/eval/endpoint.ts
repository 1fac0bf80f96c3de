/**
 * Endpoint mode: POST each query to `${url}/search` with {"query": text, "k": K} and read
 * {"results": [{"id", "score", ...}], ...}. Bounded concurrency; retries with backoff on 5xx, 429 and
 * network errors; a 4xx other than 429 fails at once with the body. The first query is sent alone, so a
 * down endpoint gives one clear error instead of N.
 */
import { CodedError } from "../../src/errors.ts";
import { forEachLimit } from "../pool.ts";
import { retry, type Attempt } from "../retry.ts";
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

/** A search endpoint that answered with an error, or not at all. */
export class EndpointError extends CodedError<"endpoint"> {
  constructor(message: string) {
    super("endpoint", message);
  }
}

type Resolved = Required<Omit<EndpointOptions, "log">> & { log: (m: string) => void };

/** One POST: the hits, or `again` (5xx, 429, network) for the retry loop; other failures throw. */
async function attemptOne(q: { id: string; text: string }, o: Resolved): Promise<Attempt<Hit[]>> {
  const target = `${o.url}/search`;
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
    return { again: `${err.cause?.code ?? err.name}: ${err.cause?.message ?? err.message}` };
  }
  const body = await res.text();
  if (res.status >= 500 || res.status === 429) return { again: `HTTP ${res.status}: ${body.slice(0, 300)}` };
  if (!res.ok) throw new EndpointError(`${target} answered HTTP ${res.status} for query ${q.id}: ${body.slice(0, 500)}`);
  return { done: parseHits(target, q.id, body) };
}

function parseHits(target: string, qid: string, body: string): Hit[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new EndpointError(`${target}: response for query ${qid} is not JSON: ${body.slice(0, 200)}`);
  }
  const results = (json as { results?: unknown }).results;
  if (!Array.isArray(results)) throw new EndpointError(`${target}: response for query ${qid} has no "results" array`);
  return results.map((r, i) => {
    const id = (r as { id?: unknown }).id;
    const score = (r as { score?: unknown }).score;
    if ((typeof id !== "string" && typeof id !== "number") || typeof score !== "number") {
      throw new EndpointError(`${target}: query ${qid} result ${i} lacks a string "id" and numeric "score"`);
    }
    return { id: String(id), score };
  });
}

async function searchOne(q: { id: string; text: string }, o: Resolved): Promise<Hit[]> {
  const r = await retry((n) => attemptOne(q, o), { attempts: o.retries + 1, delayMs: (n) => o.backoffMs * 2 ** (n - 1) });
  if (r.ok) return r.value;
  throw new EndpointError(`${o.url}/search failed for query ${q.id} after ${r.attempts} attempts (is the endpoint up?): ${r.last}`);
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
  let done = 1;
  const t0 = performance.now();
  await forEachLimit(queries.slice(1), o.concurrency, async (q) => {
    run.set(q.id, await searchOne(q, o));
    if (++done % 100 === 0) o.log(`  ${done}/${queries.length} queries, ${(done / ((performance.now() - t0) / 1000)).toFixed(1)} q/s`);
  });
  // keep query order
  return new Map(queries.map((q) => [q.id, run.get(q.id)!]));
}
