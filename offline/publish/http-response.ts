// What the two HTTP publish targets (S3 API, worker admin routes) read from a response the same way. Each target
// keeps its own `fail`, which maps a failed status to a PublishError with its own advice. No Node APIs (workerd too).
import type { PublishTarget, PutOptions } from "./target.ts";

type Fail = (what: string, res: Response) => Promise<never>;

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
