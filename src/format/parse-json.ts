// Parsing a JSON document of the format with its zod schema: the first problem becomes one FormatError whose
// message names the JSON path, what was expected and what was found ("manifest.objects[0].path: expected ...").
import type * as z from "zod";
import { FormatError, type FormatErrorCode } from "./errors.ts";

type Issue = z.core.$ZodIssue;

/**
 * Validates `json` with `schema` and returns its output; throws FormatError with `code` (or `code(issue)`) and
 * the message of the first issue, its path rooted at `root`.
 *
 * @example
 * const pointer = parseJson(PointerSchema, json, "pointer", "invalid_pointer");
 */
export function parseJson<S extends z.ZodType>(
  schema: S,
  json: unknown,
  root: string,
  code: FormatErrorCode | ((issue: Issue) => FormatErrorCode),
): z.output<S> {
  const result = schema.safeParse(json, { reportInput: true, error: expectation });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new FormatError(typeof code === "function" ? code(issue) : code, issueMessage(root, issue));
}

/** "<root><path>: expected <issue message>, got <input>". */
export function issueMessage(root: string, issue: Issue): string {
  const got = issue.code === "unrecognized_keys" ? issue.keys.map((k) => JSON.stringify(k)).join(", ") : shown(issue.input);
  return `${jsonPath(root, issue.path)}: expected ${issue.message}, got ${got}`;
}

/** Throws the coded error of a rule checked after parsing: "<path>: expected <expected>, got <actual>". */
export function fail(code: FormatErrorCode, path: string, expected: string, actual: unknown): never {
  throw new FormatError(code, `${path}: expected ${expected}, got ${shown(actual)}`);
}

/** `root.a[0].b` */
function jsonPath(root: string, path: readonly PropertyKey[]): string {
  return root + path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join("");
}

/** A value as JSON, cut at 80 characters; "nothing" for a missing one. */
function shown(v: unknown): string {
  if (v === undefined) return "nothing";
  try {
    return JSON.stringify(v)?.slice(0, 80) ?? String(v);
  } catch {
    return String(v);
  }
}

/** What the shared shapes expect, for the issues whose schema does not say it itself. */
function expectation(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      return TYPE_WORDS[issue.expected] ?? `a value of type ${issue.expected}`;
    case "invalid_value":
      return issue.values.map((v) => JSON.stringify(v)).join(" or ");
    case "unrecognized_keys":
      return "no other fields";
    default:
      return undefined;
  }
}

const TYPE_WORDS: Record<string, string> = {
  object: "an object",
  array: "an array",
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  null: "null",
};
