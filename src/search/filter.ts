// Metadata filters: `{"year": {"$gte": 2020}, "lang": "en", "tags": {"$in": ["a", "b"]}}`. `parseFilter` checks a
// request's filter against the index's declared fields (a FilterError, `invalid_filter`, names the field and what was
// wrong); `matchDocuments` runs it over the field columns into a bitset of the matching documents, which every side
// of a search (dense flat and partitioned, BM25, hybrid) tests before it ranks a document.
//
// Semantics (MongoDB's): fields of one object, and operators of one field, all hold ($and); `{"f": v}` is
// `{"f": {"$eq": v}}`; on a keyword[] field $eq / $in hold when the array holds the value / any of the values;
// $ne, $nin and `$exists: false` also match documents without the field; $lt $lte $gt $gte take int and date fields
// (a date as an ISO 8601 string) and never match a document without the field.
import { CodedError } from "../errors.ts";
import { popcount, type Column, type FieldColumns, type FieldSpec } from "../format";
import { EXPECTED, parseDate, parseInt32 } from "./field-values.ts";

/** A filter that does not fit the index's fields (400 `invalid_filter` in the API). */
export class FilterError extends CodedError<"invalid_filter"> {}

/** Bounds of a filter: nesting of $and / $or, conditions in all, values of one $in / $nin. */
export const FILTER_LIMITS = { depth: 4, conditions: 64, values: 1024 } as const;

const COMPARE = ["$lt", "$lte", "$gt", "$gte"] as const;
const OPERATORS = ["$eq", "$ne", "$in", "$nin", ...COMPARE, "$exists"] as const;
type Operator = (typeof OPERATORS)[number];

type Value = number | string;

/** A checked filter: conditions on declared fields, joined by and / or. */
export type FilterNode =
  | { op: "and" | "or"; of: FilterNode[] }
  | { op: "field"; field: string; type: FieldSpec["type"]; test: Operator; values: Value[]; exists?: boolean };

/**
 * Checks `filter` (a request's JSON) against the declared fields and returns it as a tree. Throws FilterError
 * (`invalid_filter`) on an unknown field or operator, a value of the wrong type, or a filter beyond FILTER_LIMITS.
 *
 * @example
 * const node = parseFilter({ year: { $gte: 2020 } }, manifest.fields?.schema ?? []);
 */
export function parseFilter(filter: unknown, schema: readonly FieldSpec[]): FilterNode {
  const byName = new Map(schema.map((f) => [f.name, f]));
  const budget = { conditions: 0 };
  return parseObject(filter, "filter", 0, byName, budget);
}

function fail(at: string, msg: string): FilterError {
  return new FilterError("invalid_filter", `${at}: ${msg}`);
}

const typeName = (t: FieldSpec["type"]) => (t === "int" ? "an int" : `a ${t}`);
const show = (v: unknown) => (v === undefined ? "nothing" : JSON.stringify(v));

function parseObject(v: unknown, at: string, depth: number, fields: Map<string, FieldSpec>, budget: { conditions: number }): FilterNode {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw fail(at, `expected an object like {"field": value}, got ${show(v)}`);
  if (depth > FILTER_LIMITS.depth) throw fail(at, `$and / $or nested deeper than ${FILTER_LIMITS.depth}`);
  const of: FilterNode[] = [];
  for (const [key, value] of Object.entries(v)) {
    if (key === "$and" || key === "$or") {
      if (!Array.isArray(value) || value.length === 0) throw fail(`${at}.${key}`, `expected a non-empty array of filters, got ${show(value)}`);
      const parts = value.map((x, i) => parseObject(x, `${at}.${key}[${i}]`, depth + 1, fields, budget));
      of.push({ op: key === "$and" ? "and" : "or", of: parts });
    } else if (key.startsWith("$")) {
      throw fail(`${at}.${key}`, `unknown operator ${JSON.stringify(key)} here (fields of an object, $and and $or)`);
    } else {
      const spec = fields.get(key);
      if (!spec) {
        const known = [...fields.keys()];
        throw fail(`${at}.${key}`, `unknown field ${JSON.stringify(key)}; this index's filterable fields: ${known.length ? known.join(", ") : "none (build it with --fields)"}`);
      }
      of.push(...parseField(spec, value, `${at}.${key}`, budget));
    }
  }
  return of.length === 1 ? of[0] : { op: "and", of };
}

function parseField(spec: FieldSpec, v: unknown, at: string, budget: { conditions: number }): FilterNode[] {
  const isOps = typeof v === "object" && v !== null && !Array.isArray(v);
  const ops: Array<[string, unknown]> = isOps ? Object.entries(v) : [["$eq", v]];
  if (ops.length === 0) throw fail(at, `expected a value or {"$op": value}, got {}`);
  return ops.map(([op, arg]) => {
    if (++budget.conditions > FILTER_LIMITS.conditions) throw fail(at, `more than ${FILTER_LIMITS.conditions} conditions`);
    if (!(OPERATORS as readonly string[]).includes(op)) throw fail(`${at}.${op}`, `unknown operator ${JSON.stringify(op)}; expected one of ${OPERATORS.join(" ")}`);
    const test = op as Operator;
    const node = { op: "field" as const, field: spec.name, type: spec.type, test };
    if (test === "$exists") {
      if (typeof arg !== "boolean") throw fail(`${at}.$exists`, `expected true or false, got ${show(arg)}`);
      return { ...node, values: [], exists: arg };
    }
    if ((COMPARE as readonly string[]).includes(test) && (spec.type === "keyword" || spec.type === "keyword[]")) {
      throw fail(`${at}.${op}`, `${spec.name} is ${typeName(spec.type)} field; ${op} takes int and date fields`);
    }
    if (test === "$in" || test === "$nin") {
      if (!Array.isArray(arg) || arg.length === 0 || arg.length > FILTER_LIMITS.values) {
        throw fail(`${at}.${op}`, `expected an array of 1 to ${FILTER_LIMITS.values} values, got ${show(arg)}`);
      }
      return { ...node, values: arg.map((x, i) => scalar(spec, x, `${at}.${op}[${i}]`)) };
    }
    return { ...node, values: [scalar(spec, arg, isOps ? `${at}.${op}` : at)] };
  });
}

/** One value compared with a field: a number for int (any finite number) and date (from its ISO string), else a string. */
function scalar(spec: FieldSpec, v: unknown, at: string): Value {
  const expected = spec.type === "keyword[]" ? "a string (an element of the array)" : spec.type === "int" ? "a number" : EXPECTED[spec.type];
  const hint = Array.isArray(v) ? ` (any of several values: {"$in": [...]})` : "";
  const wrong = () => fail(at, `${spec.name} is ${typeName(spec.type)} field; expected ${expected}, got ${show(v)}${hint}`);
  switch (spec.type) {
    case "int":
      if (typeof v !== "number" || !Number.isFinite(v)) throw wrong();
      return v;
    case "date": {
      const ms = parseDate(v);
      if (ms === undefined) throw wrong();
      return ms;
    }
    default:
      if (typeof v !== "string") throw wrong();
      return v;
  }
}

/** The documents a filter matches: bit `o & 31` of word `o >>> 5` is set for a matching document ordinal `o`. */
export interface DocFilter {
  documents: number;
  bits: Uint32Array;
  /** Matching documents. */
  count: number;
  has(ordinal: number): boolean;
  /**
   * Only deleted documents are left out (an updated version's live documents, src/search/segments.ts): their rows
   * are skipped, but a search never scans further for it, as it does for a filter that matches few documents.
   */
  deletionsOnly?: boolean;
}

/** A DocFilter over a bitset (its bits past `documents` clear). */
export function docFilter(bits: Uint32Array, documents: number, opts: { deletionsOnly?: boolean } = {}): DocFilter {
  let count = 0;
  for (let w = 0; w < bits.length; w++) count += popcount(bits[w]);
  return { documents, bits, count, has: (o) => (bits[o >>> 5] & (1 << (o & 31))) !== 0, ...(opts.deletionsOnly ? { deletionsOnly: true } : {}) };
}

/**
 * The documents `node` matches, over the columns (which must hold every field the node names: the manifest's
 * schema and the columns object are checked against each other when it is loaded).
 *
 * @example
 * const matching = matchDocuments(parseFilter(req.filter, schema), columns);
 */
export function matchDocuments(node: FilterNode, cols: FieldColumns): DocFilter {
  const byName = new Map(cols.columns.map((c) => [c.name, c]));
  return docFilter(evaluate(node, cols.documents, byName), cols.documents);
}

function evaluate(node: FilterNode, n: number, cols: Map<string, Column>): Uint32Array {
  const words = (n + 31) >>> 5;
  if (node.op !== "field") {
    const parts = node.of.map((x) => evaluate(x, n, cols));
    const out = node.op === "and" ? allSet(n) : new Uint32Array(words);
    for (const p of parts) for (let w = 0; w < words; w++) out[w] = node.op === "and" ? out[w] & p[w] : out[w] | p[w];
    return out;
  }
  const col = cols.get(node.field);
  if (!col) throw new Error(`filter: no column for field ${node.field}`);
  const negate = node.test === "$ne" || node.test === "$nin" || node.exists === false;
  const bits = new Uint32Array(words);
  const range = (col.type === "int" || col.type === "date") && node.test !== "$exists" ? bounds(node) : undefined;
  if (range && (col.type === "int" || col.type === "date")) rangeBits(col.values, col.present, n, range, bits);
  else {
    const test = docTest(node, col);
    for (let i = 0; i < n; i++) if ((col.present[i >> 3] & (1 << (i & 7))) !== 0 && test(i)) bits[i >>> 5] |= 1 << (i & 31);
  }
  if (negate) {
    const all = allSet(n);
    for (let w = 0; w < words; w++) bits[w] = ~bits[w] & all[w];
  }
  return bits;
}

/**
 * A comparison or a single-value $eq / $ne on an int or date column as inclusive bounds (both hold integers: int32s,
 * and dates as whole ms), so one loop without a call per document tests it.
 */
function bounds(node: Extract<FilterNode, { op: "field" }>): { lo: number; hi: number } | undefined {
  const x = node.values[0] as number;
  switch (node.test) {
    case "$lt": return { lo: -Infinity, hi: Math.ceil(x) - 1 };
    case "$lte": return { lo: -Infinity, hi: Math.floor(x) };
    case "$gt": return { lo: Math.floor(x) + 1, hi: Infinity };
    case "$gte": return { lo: Math.ceil(x), hi: Infinity };
    case "$eq":
    case "$ne":
      return Number.isInteger(x) ? { lo: x, hi: x } : { lo: 1, hi: 0 };
    default: return undefined;
  }
}

function rangeBits(values: Int32Array | Float64Array, present: Uint8Array, n: number, { lo, hi }: { lo: number; hi: number }, bits: Uint32Array): void {
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v >= lo && v <= hi && (present[i >> 3] & (1 << (i & 7))) !== 0) bits[i >>> 5] |= 1 << (i & 31);
  }
}

/** Every document's bit set (none past n). */
function allSet(n: number): Uint32Array {
  const out = new Uint32Array((n + 31) >>> 5).fill(0xffffffff);
  if (n & 31) out[out.length - 1] = (1 << (n & 31)) - 1;
  return out;
}

/** The positive test of a condition on a document that has the field ($ne, $nin, $exists false: negated after). */
function docTest(node: Extract<FilterNode, { op: "field" }>, col: Column): (i: number) => boolean {
  if (node.test === "$exists") return () => true;
  if (col.type === "int" || col.type === "date") {
    const values = col.values;
    const x = node.values[0] as number;
    switch (node.test) {
      case "$lt": return (i) => values[i] < x;
      case "$lte": return (i) => values[i] <= x;
      case "$gt": return (i) => values[i] > x;
      case "$gte": return (i) => values[i] >= x;
      default: {
        const set = new Set(node.values as number[]);
        return (i) => set.has(values[i]);
      }
    }
  }
  const wanted = new Uint8Array(col.dict.length);
  let any = false;
  for (const v of node.values) {
    const id = indexOf(col.dict, v as string);
    if (id < 0) continue;
    wanted[id] = 1;
    any = true;
  }
  if (!any) return () => false;
  const ids = col.ids;
  if (col.type === "keyword") return (i) => wanted[ids[i]] === 1;
  const offsets = col.offsets;
  return (i) => {
    for (let j = offsets[i]; j < offsets[i + 1]; j++) if (wanted[ids[j]] === 1) return true;
    return false;
  };
}

/** Index of `s` in the ascending `dict`, or -1. */
function indexOf(dict: string[], s: string): number {
  let lo = 0, hi = dict.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (dict[mid] < s) lo = mid + 1;
    else hi = mid;
  }
  return lo < dict.length && dict[lo] === s ? lo : -1;
}
