// An R2 binding for tests: the real one of the workerd test environment (the R2 simulator), seen through a wrapper
// that logs what is read and injects faults at chosen, seeded rates (src/random.ts): a `get` that throws, a `get`
// delayed, a body cut short (the object's `size` stays the whole object's, as when a connection drops). The worker is
// then called with it in place of its INDEXES binding (`callWorker`).
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker from "../../src/index";
import { rng } from "../../src/random";

export interface Faults {
  /** Share of gets that throw (0..1). */
  fail?: number;
  /** Share of bodies cut to a part of their bytes (0..1). */
  truncate?: number;
  /** Every get waits up to this long (ms, uniform). */
  delayMs?: number;
}

export interface ReadLog {
  /** Every get: its key and range. */
  gets: Array<{ key: string; range?: { offset?: number; length?: number } }>;
  /** Keys whose body was read (arrayBuffer, bytes, text, json or the body stream). */
  bodiesRead: string[];
  /** Faults injected. */
  failed: number;
  truncated: number;
}

export interface FaultyBucket {
  bucket: R2Bucket;
  log: ReadLog;
  /** Changes the fault rates from the next get on (`{}`: no faults). */
  set(faults: Faults): void;
}

/**
 * The test environment's R2 bucket with reads logged and faults injected on the keys `only` accepts (default: every
 * key of an index; API key records are left alone).
 *
 * @example
 * const f = faultyBucket({ fail: 0.2 }, 42);
 * const res = await callWorker(f.bucket, request);
 */
export function faultyBucket(faults: Faults = {}, seed = 1, only = (key: string) => key.includes("/indexes/")): FaultyBucket {
  const real = (env as unknown as { INDEXES: R2Bucket }).INDEXES;
  const random = rng(seed);
  const log: ReadLog = { gets: [], bodiesRead: [], failed: 0, truncated: 0 };
  let rates = faults;
  const get = async (key: string, options?: R2GetOptions) => {
    const range = options?.range as { offset?: number; length?: number } | undefined;
    log.gets.push({ key, range });
    if (!only(key)) return real.get(key, options);
    if (rates.delayMs) await new Promise((r) => setTimeout(r, random() * rates.delayMs!));
    if (random() < (rates.fail ?? 0)) {
      log.failed++;
      throw new Error(`injected R2 failure reading ${key}`);
    }
    const obj = await real.get(key, options);
    if (!obj || !("body" in obj)) return obj;
    const cut = random() < (rates.truncate ?? 0);
    if (cut) log.truncated++;
    return watched(obj as R2ObjectBody, key, log, cut ? random() : 1);
  };
  const bucket = new Proxy(real, {
    get(target, prop) {
      if (prop === "get") return get;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { bucket, log, set: (f) => (rates = f) };
}

/** An object body whose reads are logged, and cut to `keep` (0..1) of its bytes when `keep` < 1. */
function watched(obj: R2ObjectBody, key: string, log: ReadLog, keep: number): R2ObjectBody {
  const bytes = async () => {
    log.bodiesRead.push(key);
    const all = new Uint8Array(await obj.arrayBuffer());
    return keep < 1 ? all.slice(0, Math.floor(all.byteLength * keep)) : all;
  };
  return new Proxy(obj, {
    get(target, prop) {
      switch (prop) {
        case "arrayBuffer":
          return async () => (await bytes()).buffer;
        case "bytes":
          return bytes;
        case "text":
          return async () => new TextDecoder().decode(await bytes());
        case "json":
          return async () => JSON.parse(new TextDecoder().decode(await bytes()));
        case "body":
          // A stream nobody reads (a cancel) is not a read; one that is read is.
          return keep < 1 ? new Blob([]).stream() : loggedStream(target.body, () => log.bodiesRead.push(key));
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

function loggedStream(body: ReadableStream, onRead: () => void): ReadableStream {
  const reader = body.getReader();
  let read = false;
  return new ReadableStream({
    async pull(controller) {
      if (!read) onRead();
      read = true;
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 }); // pulled only when read
}

/** Calls the worker (src/index.ts, its registry and caches) with `bucket` as its INDEXES binding; waits for its deferred work. */
export async function callWorker(bucket: R2Bucket, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request, { ...(env as object), INDEXES: bucket } as never, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
