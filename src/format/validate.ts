// Small typed readers for JSON validation: each returns the value or throws invalid_manifest naming the field.
import { FormatError, type FormatErrorCode } from "./errors.ts";

/** A JSON object node being validated, with its dotted path for messages. */
export interface Node {
  path: string;
  value: Record<string, unknown>;
  code: FormatErrorCode;
}

/** Throws the node's coded error: "<path>: expected <expected>, got <actual>". */
export function fail(code: FormatErrorCode, path: string, expected: string, actual: unknown): never {
  const got = actual === undefined ? "nothing" : JSON.stringify(actual)?.slice(0, 80) ?? String(actual);
  throw new FormatError(code, `${path}: expected ${expected}, got ${got}`);
}

/** Wraps `value` as an object node; fails unless it is a plain JSON object. */
export function obj(value: unknown, path: string, code: FormatErrorCode = "invalid_manifest"): Node {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(code, path, "an object", value);
  return { path, value: value as Record<string, unknown>, code };
}

/** The child object `key` of `n`. */
export function child(n: Node, key: string): Node {
  return obj(n.value[key], `${n.path}.${key}`, n.code);
}

/** A string field, optionally matching `re`. */
export function str(n: Node, key: string, re?: RegExp, expected = "a non-empty string"): string {
  const v = n.value[key];
  if (typeof v !== "string" || v.length === 0 || (re && !re.test(v))) fail(n.code, `${n.path}.${key}`, re ? `${expected} matching ${re}` : expected, v);
  return v;
}

/** A field equal to one of `allowed`. */
export function oneOf<T extends string | number | boolean>(n: Node, key: string, allowed: readonly T[]): T {
  const v = n.value[key];
  if (!allowed.includes(v as T)) fail(n.code, `${n.path}.${key}`, allowed.map((a) => JSON.stringify(a)).join(" or "), v);
  return v as T;
}

/** A boolean field. */
export function bool(n: Node, key: string): boolean {
  return oneOf(n, key, [true, false]);
}

/** An integer field in [min, max]. */
export function int(n: Node, key: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = n.value[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) fail(n.code, `${n.path}.${key}`, `an integer in ${min}..${max}`, v);
  return v;
}

/** A finite number field, at least `min`. */
export function num(n: Node, key: string, min = -Infinity): number {
  const v = n.value[key];
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) fail(n.code, `${n.path}.${key}`, `a finite number >= ${min}`, v);
  return v;
}

/** An array field (optionally non-empty), each item mapped by `each(item, path)`. */
export function arr<T>(n: Node, key: string, each: (item: unknown, path: string) => T, nonEmpty = false): T[] {
  const v = n.value[key];
  const path = `${n.path}.${key}`;
  if (!Array.isArray(v) || (nonEmpty && v.length === 0)) fail(n.code, path, nonEmpty ? "a non-empty array" : "an array", v);
  return v.map((item, i) => each(item, `${path}[${i}]`));
}

/** True when `key` is absent (or undefined). */
export function absent(n: Node, key: string): boolean {
  return n.value[key] === undefined;
}
