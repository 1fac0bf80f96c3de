import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CodedError } from "../errors";

/** Stable error codes of the HTTP API. Clients branch on `error.code`, never on the message. */
export type ApiErrorCode =
  | "invalid_json"
  | "invalid_request"
  | "missing_query"
  | "empty_query"
  | "query_too_long"
  | "k_out_of_range"
  | "invalid_name"
  | "payload_too_large"
  | "length_required"
  | "unsupported_media_type"
  | "index_not_found"
  | "route_not_found"
  | "method_not_allowed"
  | "index_unavailable"
  | "missing_credentials"
  | "invalid_credentials"
  | "forbidden"
  | "rate_limited"
  | "invalid_object"
  | "checksum_mismatch"
  | "invalid_manifest"
  | "missing_objects"
  | "invalid_pointer"
  | "manifest_not_found"
  | "not_found"
  | "precondition_required"
  | "conflict"
  | "internal";

/**
 * The one error class of the worker; `app.onError` turns it into `{ error: { code, message } }` with `status`.
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
