// What the two HTTP publish targets (S3 API, worker admin routes) do the same way: send with retries, read HEAD and
// GET answers, build PUT headers. Each target keeps its own `fail`, which maps a failed status to a PublishError
// with its own advice. No Node APIs (workerd too).
import { backoff, retry } from "../retry.ts";
import { PublishError, type PublishTarget, type PutOptions } from "./target.ts";

type Fail = (what: string, res: Response) => Promise<never>;

export interface RetryOptions {
  /** What is being done, for the error message (e.g. `PUT <key>`). */
  what: string;
  attempts: number;
  retryBaseMs: number;
  /** Turns a failed response into a short text (each target's error body format differs). */
  errorText: (res: Response) => Promise<string>;
}

/**
 * Sends a request until it answers below 500 and not 429, with exponential backoff and jitter between attempts
 * (offline/retry.ts); then gives up with PublishError("network"). Any other status is returned for the caller to map.
 */
export async function fetchWithRetry(send: () => Promise<Response>, o: RetryOptions): Promise<Response> {
  const r = await retry<Response>(
    async () => {
      try {
        const res = await send();
        if (res.status < 500 && res.status !== 429) return { done: res };
        return { again: new Error(`HTTP ${res.status}: ${await o.errorText(res)}`) };
      } catch (e) {
        return { again: e };
      }
    },
    { attempts: o.attempts, delayMs: backoff(o.retryBaseMs) },
  );
  if (r.ok) return r.value;
  throw new PublishError("network", `${o.what}: failed after ${r.attempts} attempts: ${String(r.last)}`, { cause: r.last });
}

/** A `Last-Modified` header as a Date; undefined when absent or unparsable. */
export function httpDate(value: string | null): Date | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isFinite(t) ? new Date(t) : undefined;
}

/** Content type and conditional-write headers of a PUT. */
export function putHeaders(opts: PutOptions): Record<string, string> {
  const headers: Record<string, string> = { "content-type": opts.contentType ?? "application/octet-stream" };
  if (opts.ifMatch !== undefined) headers["if-match"] = opts.ifMatch;
  if (opts.ifNoneMatch !== undefined) headers["if-none-match"] = opts.ifNoneMatch;
  return headers;
}

/** A HEAD response as `PublishTarget.head` returns it: 404 -> null, another failure -> `fail`. */
export async function headResult(what: string, res: Response, fail: Fail): ReturnType<PublishTarget["head"]> {
  await res.body?.cancel();
  if (res.status === 404) return null;
  if (!res.ok) return fail(what, res);
  return { size: Number(res.headers.get("content-length") ?? 0), etag: res.headers.get("etag") ?? "", uploaded: httpDate(res.headers.get("last-modified")) };
}

/** A GET response as `PublishTarget.get` returns it: 404 -> null, another failure -> `fail`. */
export async function getResult(what: string, res: Response, fail: Fail): ReturnType<PublishTarget["get"]> {
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) return fail(what, res);
  return { bytes: new Uint8Array(await res.arrayBuffer()), etag: res.headers.get("etag") ?? "" };
}
