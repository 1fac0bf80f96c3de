// Error responses of the OpenAPI document: per status, the stable codes a route can answer with, as an enum in the
// response's schema and, with their meanings (API_ERRORS), in its description.
import { z } from "@hono/zod-openapi";
import { API_ERRORS, type ApiErrorCode } from "../http-error";

/** Statuses of error responses. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 411 | 412 | 413 | 415 | 428 | 429 | 500 | 503;

/** The codes of a route (or of a middleware in front of it), by status. */
export type ErrorCodes = { readonly [S in ErrorStatus]?: readonly ApiErrorCode[] };

/** Every route can fail unexpectedly, or on a bad configuration of the worker. */
const ALWAYS: ErrorCodes = { 500: ["internal", "config_error"] };

/** The schema of an error body whose code is one of `codes`. */
export function errorSchema(codes: readonly ApiErrorCode[]) {
  return z.object({
    error: z.object({
      code: z.enum(codes as [ApiErrorCode, ...ApiErrorCode[]]).openapi({ description: "stable: clients branch on it" }),
      message: z.string().openapi({ description: "for a person: what was expected and what came" }),
    }),
  });
}

/**
 * The error responses of a route, merged from the codes of its middleware and its own (and 500 `internal`).
 *
 * @example
 * responses: { 200: ok, ...errorResponses(KEY_ERRORS, { 404: ["index_not_found"] }) }
 */
export function errorResponses(...parts: ErrorCodes[]) {
  const byStatus = new Map<ErrorStatus, Set<ApiErrorCode>>();
  for (const part of [...parts, ALWAYS]) {
    for (const [status, codes] of Object.entries(part) as [string, readonly ApiErrorCode[]][]) {
      const set = byStatus.get(Number(status) as ErrorStatus) ?? new Set<ApiErrorCode>();
      for (const code of codes) set.add(code);
      byStatus.set(Number(status) as ErrorStatus, set);
    }
  }
  const out: { [status: number]: { description: string; content: { "application/json": { schema: ReturnType<typeof errorSchema> } } } } = {};
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) {
    const codes = [...set];
    out[status] = {
      description: codes.map((code) => `\`${code}\`: ${API_ERRORS[code]}`).join("; "),
      content: { "application/json": { schema: errorSchema(codes) } },
    };
  }
  return out;
}
