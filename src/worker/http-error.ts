import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { clip, CodedError } from "../errors";
import { FormatError } from "../format";
import { ConfigError } from "./env";

/**
 * Stable error codes of the HTTP API, each with what it means. Clients branch on `error.code`, never on the message.
 * The OpenAPI document (`GET /openapi.json`) lists, per route and status, the codes it can answer with.
 */
export const API_ERRORS = {
  invalid_json: "the body is not valid UTF-8 JSON",
  invalid_request: "the body is not a JSON object, or a field has the wrong type or value",
  unknown_field: "the body has a field this version of the API does not know (a misspelling, or a newer option)",
  missing_query: "the body has no \"query\"",
  empty_query: "\"query\" is empty or blank",
  query_too_long: "\"query\" is longer than the limit (16384 characters, or the API key's own)",
  k_out_of_range: "\"k\" is not an integer from 1 to 100 (or to the API key's own limit)",
  invalid_filter: "\"filter\" names a field the index does not declare, an unknown operator, or a value of the wrong type",
  offset_out_of_range: "\"offset\" is not an integer from 0, or offset + k is deeper than paging reaches (1000; hybrid: its candidate window)",
  encoder_unavailable: "\"encoder\": \"static\" names a static query tier the index does not have",
  invalid_name: "a tenant, index, object or version name in the path is malformed",
  payload_too_large: "the body is larger than the route's limit",
  length_required: "an object upload has no Content-Length header",
  unsupported_media_type: "the body's Content-Type is not JSON (application/json, text/plain or a form type)",
  index_not_found: "no index is published under this tenant and name",
  document_not_found: "the index has no document with this id",
  not_supported: "the index version was built without what the route needs (rebuild it with a newer i3 build)",
  route_not_found: "no route has this method and path",
  method_not_allowed: "the route exists for another method",
  index_unavailable: "the index's published version could not be loaded (it failed its checks, or storage failed) and no good version is cached (see Retry-After)",
  storage_unavailable: "storage (R2) could not be read just now, e.g. to check the API key: try again (see Retry-After)",
  index_too_large: "the index is flat and larger than an isolate keeps resident: it must be rebuilt partitioned",
  missing_credentials: "no Authorization header",
  invalid_credentials: "the API key is malformed, unknown, revoked or wrong",
  forbidden: "the API key has no access to this tenant, or lacks the route's role",
  rate_limited: "the API key's requests per second, or this client's failed authentications, are used up (see Retry-After)",
  invalid_object: "the object body could not be stored",
  checksum_mismatch: "the body's sha256 is not the one its name or version says",
  invalid_manifest: "the body is not a valid manifest of the index format",
  missing_objects: "the manifest names objects that were not uploaded first",
  invalid_pointer: "the body is not a valid pointer to a manifest of this index",
  manifest_not_found: "the pointer names a manifest that was not uploaded first",
  not_found: "no object, manifest or pointer has this name",
  precondition_required: "PUT current needs exactly one of If-Match or If-None-Match: *",
  conflict: "current changed since it was read (If-Match / If-None-Match did not hold)",
  config_error: "the worker's configuration (a var of wrangler.toml) is invalid: the message names it (logged)",
  internal: "an unexpected error (logged)",
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** Every code of `API_ERRORS`, in order. */
export const API_ERROR_CODES = Object.keys(API_ERRORS) as ApiErrorCode[];

/**
 * The one error class of the worker's routes; `app.onError` turns it into `{ error: { code, message } }` with `status`.
 *
 * @example
 * throw new ApiError(400, "k_out_of_range", "k must be an integer from 1 to 100, got 500");
 */
export class ApiError extends CodedError<ApiErrorCode> {
  /** Response headers that go with the error (`WWW-Authenticate`, `Retry-After`). */
  readonly headers?: Record<string, string>;

  constructor(
    readonly status: ContentfulStatusCode,
    code: ApiErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(code, message, options);
    this.headers = options?.headers;
  }
}

/** Characters of an error message: a longer one (echoing a long value) is cut. */
export const MAX_MESSAGE_CHARS = 1000;

/** The JSON body of every error response. */
export function errorBody(code: ApiErrorCode, message: string) {
  return { error: { code, message: clip(message, MAX_MESSAGE_CHARS) } };
}

/**
 * The one mapping from an error thrown anywhere in the worker to its HTTP answer (`app.onError`):
 * an ApiError is its own answer; a FormatError `invalid_name` is the caller's malformed name (400); any other
 * FormatError is a stored index that failed its checks (503 `index_unavailable`); a ConfigError is a bad var
 * (500 `config_error`, naming it); anything else is logged and answered 500 `internal`. Every 503 says which index
 * and nothing more: its detail (object keys, hashes, versions) goes to the log only.
 *
 * @example
 * app.onError((err, c) => {
 *   const e = toApiError(err, c.req.param());
 *   return c.json(errorBody(e.code, e.message), e.status, e.headers);
 * });
 */
export function toApiError(err: unknown, where: { tenant?: string; index?: string } = {}): ApiError {
  const index = where.tenant && where.index ? `index ${where.tenant}/${where.index}` : "the index";
  if (err instanceof ApiError) return err; // its own message names no key or hash (the registry logs the detail)
  if (err instanceof FormatError) {
    if (err.code === "invalid_name") return new ApiError(400, "invalid_name", err.message, { cause: err });
    return unavailable(index, err);
  }
  if (err instanceof ConfigError) {
    console.error(err.message);
    const names = err.vars.map((v) => v.name).join(", ");
    return new ApiError(500, "config_error", `the worker's configuration is invalid: ${names} (its log says why)`, { cause: err });
  }
  if (err instanceof HTTPException && err.status < 500) return fromHttpException(err);
  console.error("unhandled error", err);
  return new ApiError(500, "internal", "internal error", { cause: err });
}

/** 503 `index_unavailable` naming the index only; the error's own message (keys, hashes) is logged. */
function unavailable(index: string, err: FormatError): ApiError {
  console.error(`${index} is unavailable: ${err.code}: ${err.message}`);
  return new ApiError(503, "index_unavailable", `${index} is unavailable: no good version of it is cached or could be loaded (logged)`, { cause: err });
}

/** A 4xx that Hono itself threw (none is expected: the routes read bodies themselves) with the nearest code. */
function fromHttpException(err: HTTPException): ApiError {
  const code: ApiErrorCode = err.status === 415 ? "unsupported_media_type" : err.status === 413 ? "payload_too_large" : "invalid_request";
  return new ApiError(err.status as ContentfulStatusCode, code, err.message || API_ERRORS[code], { cause: err });
}

/**
 * Runs `parse` over a body the client sent: a FormatError there is the client's fault, 400 with `code` (a bad name
 * stays `invalid_name`), not a broken index.
 *
 * @example
 * const manifest = parseClientBody("invalid_manifest", () => parseManifest(json));
 */
export function parseClientBody<T>(code: "invalid_manifest" | "invalid_pointer", parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof FormatError && e.code !== "invalid_name") throw new ApiError(400, code, e.message, { cause: e });
    throw e;
  }
}
