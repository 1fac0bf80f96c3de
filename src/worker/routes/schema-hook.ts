import type { z } from "@hono/zod-openapi";
import { quoted } from "../../errors";
import { ApiError, type ApiErrorCode } from "../http-error";

/** The stable code of one issue of a body's schema, given the value the issue is about. */
export type BodyIssueCode = (issue: z.core.$ZodIssue, value: unknown) => ApiErrorCode;

type Target = "json" | "form" | "query" | "param" | "header" | "cookie";
type HookResult = { target: Target; success: true; data: unknown } | { target: Target; success: false; error: z.ZodError; data?: unknown };

/**
 * The validation hook of a route: a request that fails its schemas becomes a thrown 400 ApiError, answered by the
 * app's `onError`. A path parameter -> `invalid_name`; a body field the schema does not know -> `unknown_field`,
 * naming it (a misspelled option, or one of a newer version, never quietly changes the results); any other body
 * problem -> `bodyCode` of its first issue (default `invalid_request`), with the schema's message.
 *
 * @example
 * app.openapi(searchRoute, handler, schemaHook(SearchRequest, searchIssueCode));
 */
export function schemaHook(body?: z.ZodObject, bodyCode: BodyIssueCode = () => "invalid_request") {
  return (result: HookResult): undefined => {
    if (result.success) return undefined;
    const issues = result.error.issues;
    if (result.target === "param") throw new ApiError(400, "invalid_name", issues[0].message);
    const unknown = issues.find((i): i is z.core.$ZodIssueUnrecognizedKeys => i.code === "unrecognized_keys");
    if (unknown) throw new ApiError(400, "unknown_field", unknownFieldMessage(unknown.keys, body));
    const issue = issues[0];
    throw new ApiError(400, bodyCode(issue, valueAt(result.data, issue.path)), issue.message);
  };
}

/** Unknown fields listed in a message (each cut to ECHO_CHARS by `quoted`). */
const LISTED_FIELDS = 5;

function unknownFieldMessage(keys: string[], body?: z.ZodObject): string {
  const more = keys.length > LISTED_FIELDS ? ` and ${keys.length - LISTED_FIELDS} more` : "";
  const names = keys.slice(0, LISTED_FIELDS).map((k) => quoted(k)).join(", ") + more;
  const known = body ? `; the fields are ${Object.keys(body.shape).join(", ")}` : "";
  return `unknown field${keys.length > 1 ? "s" : ""} ${names}${known}`;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const key of path) v = typeof v === "object" && v !== null ? (v as Record<PropertyKey, unknown>)[key] : undefined;
  return v;
}
