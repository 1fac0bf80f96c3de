// What a value of each field type is, in a document's metadata and in a filter: one definition for `i3 build`
// (which validates every document) and the search API (which validates every filter).
import type { FieldType } from "../format";

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
/** A date, or a date and time with a zone: 2020-01-31, 2020-01-31T12:00:00Z, 2020-01-31T12:00:00.5+02:00. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** What a value of each type must be, for error messages. */
export const EXPECTED: Record<FieldType, string> = {
  int: `an integer from ${INT32_MIN} to ${INT32_MAX}`,
  date: "an ISO 8601 date (2020-01-31, or 2020-01-31T12:00:00Z with a zone)",
  keyword: "a string",
  "keyword[]": "an array of strings",
};

/** An ISO 8601 date (see ISO_DATE) as ms since the epoch; undefined when `s` is not one. */
export function parseDate(s: unknown): number | undefined {
  if (typeof s !== "string" || !ISO_DATE.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : undefined;
}

/** An int32, or undefined. */
export function parseInt32(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX ? v : undefined;
}

/**
 * A document's metadata value for a field of `type` as the columns store it (a date as ms); `undefined` for an
 * absent (or null) value; `null` when the value is not of the type.
 *
 * @example
 * metadataValue("date", "2020-01-31"); // 1580428800000
 */
export function metadataValue(type: FieldType, v: unknown): number | string | string[] | undefined | null {
  if (v === undefined || v === null) return undefined;
  switch (type) {
    case "int":
      return parseInt32(v) ?? null;
    case "date":
      return parseDate(v) ?? null;
    case "keyword":
      return typeof v === "string" ? v : null;
    case "keyword[]":
      return Array.isArray(v) && v.every((x) => typeof x === "string") ? [...new Set(v as string[])] : null;
  }
}
