import type { MiddlewareHandler } from "hono";
import { clip, quoted } from "../../errors";
import { ApiError, type ApiErrorCode } from "../http-error";
import { readBodyWithin } from "./read-body";
import type { ErrorCodes } from "./responses";

/** Content types read as JSON: JSON itself, plain text, and curl's default for `-d` (no type at all is fine too). */
export const JSON_TYPES = /^(application\/(.+\+)?json|text\/plain|application\/x-www-form-urlencoded)\b/i;

export interface JsonBodyOptions {
  /** Bytes of the body (413 `payload_too_large` above). */
  limit: number;
  /** The code of a body that is not UTF-8 JSON (default `invalid_json`). */
  notJson?: ApiErrorCode;
  /** Content types accepted (415 `unsupported_media_type` otherwise); null: any. Default JSON_TYPES. */
  types?: RegExp | null;
}

/** The codes `jsonBody(opts)` answers with, by status (for the OpenAPI document). */
export function jsonBodyErrors(opts: JsonBodyOptions): ErrorCodes {
  return { 400: [opts.notJson ?? "invalid_json"], 413: ["payload_too_large"], ...(opts.types === null ? {} : { 415: ["unsupported_media_type"] }) };
}

/**
 * Route middleware that reads a JSON body: of an accepted content type, within `limit` bytes (counted as it streams,
 * so a chunked body stops at the limit), strict UTF-8 and JSON. The body is parsed here, once: the route's schema
 * validator gets the parsed value (it reads `c.req.json()`), and sees the request as `application/json`, the one type
 * it reads, so a JSON body sent as text/plain or by `curl -d` is the same body.
 *
 * @example
 * createRoute({ method: "post", path, middleware: [jsonBody({ limit: 16 * 1024 })], request: { body }, responses });
 */
export function jsonBody(opts: JsonBodyOptions): MiddlewareHandler {
  return async (c, next) => {
    const { text, value } = await readJson(c.req.raw, opts);
    const headers = new Headers(c.req.raw.headers);
    headers.set("content-type", "application/json");
    headers.delete("content-length");
    c.req.raw = new Request(c.req.raw.url, { method: c.req.raw.method, headers, body: text });
    c.req.json = (() => Promise.resolve(value)) as typeof c.req.json;
    await next();
  };
}

/** The body as text and as its parsed value, once it is known to be JSON within the limits. */
async function readJson(req: Request, opts: JsonBodyOptions): Promise<{ text: string; value: unknown }> {
  const type = req.headers.get("content-type") ?? "";
  const types = opts.types === undefined ? JSON_TYPES : opts.types;
  if (type && types && !types.test(type)) throw new ApiError(415, "unsupported_media_type", `expected application/json, got ${quoted(type)}`);
  const bytes = await readBodyWithin(req, opts.limit);
  const notJson = opts.notJson ?? "invalid_json";
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError(400, notJson, "the body is not valid UTF-8");
  }
  try {
    return { text, value: JSON.parse(text) };
  } catch (e) {
    throw new ApiError(400, notJson, `the body is not valid JSON: ${clip((e as Error).message, 160)}`);
  }
}
