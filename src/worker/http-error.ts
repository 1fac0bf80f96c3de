import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { CodedError } from "../errors";
import { FormatError } from "../format";

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
  query_too_long: "\"query\" is longer than the limit (2048 characters, or the API key's own)",
  k_out_of_range: "\"k\" is not an integer from 1 to 100 (or to the API key's own limit)",
  encoder_unavailable: "\"encoder\": \"static\" names a static query tier the index does not have",
  invalid_name: "a tenant, index, object or version name in the path is malformed",
  payload_too_large: "the body is larger than the route's limit",
  length_required: "an object upload has no Content-Length header",
  unsupported_media_type: "the body's Content-Type is not JSON (application/json, text/plain or a form type)",
  index_not_found: "no index is published under this tenant and name",
  route_not_found: "no route has this method and path",
  method_not_allowed: "the route exists for another method",
  index_unavailable: "the index failed its integrity checks and no good version is cached",
  missing_credentials: "no Authorization header",
  invalid_credentials: "the API key is malformed, unknown, revoked or wrong",
  forbidden: "the API key has no access to this tenant, or lacks the route's role",
  rate_limited: "the API key's requests per second are used up (see Retry-After)",
  invalid_object: "the object body could not be stored",
  checksum_mismatch: "the body's sha256 is not the one its name or version says",
  invalid_manifest: "the body is not a valid manifest of the index format",
  missing_objects: "the manifest names objects that were not uploaded first",
  invalid_pointer: "the body is not a valid pointer to a manifest of this index",
  manifest_not_found: "the pointer names a manifest that was not uploaded first",
  not_found: "no object, manifest or pointer has this name",
  precondition_required: "PUT current needs exactly one of If-Match or If-None-Match: *",
  conflict: "current changed since it was read (If-Match / If-None-Match did not hold)",
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

/** The JSON body of every error response. */
export function errorBody(code: ApiErrorCode, message: string) {
  return { error: { code, message } };
}

/**
 * The one mapping from an error thrown anywhere in the worker to its HTTP answer (`app.onError`):
 * an ApiError is its own answer; a FormatError `invalid_name` is the caller's malformed name (400); any other
 * FormatError is a stored index that failed its checks (503 `index_unavailable`; the detail, which names object
 * keys and hashes, goes to the log only); anything else is logged and answered 500 `internal`.
 *
 * @example
 * app.onError((err, c) => {
 *   const e = toApiError(err, c.req.param());
 *   return c.json(errorBody(e.code, e.message), e.status, e.headers);
 * });
 */
export function toApiError(err: unknown, where: { tenant?: string; index?: string } = {}): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof FormatError) {
    if (err.code === "invalid_name") return new ApiError(400, "invalid_name", err.message, { cause: err });
    const index = where.tenant && where.index ? `index ${where.tenant}/${where.index}` : "the index";
    console.error(`${index} is unavailable: ${err.code}: ${err.message}`);
    return new ApiError(503, "index_unavailable", `${index} is unavailable: it failed an integrity check and no good version is cached`, { cause: err });
  }
  if (err instanceof HTTPException && err.status < 500) return fromHttpException(err);
  console.error("unhandled error", err);
  return new ApiError(500, "internal", "internal error", { cause: err });
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
