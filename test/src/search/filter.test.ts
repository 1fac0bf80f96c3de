// src/search/filter.ts: what a filter may say (each mistake a FilterError naming the field), and what it matches,
// against a direct evaluation of the same semantics over random documents.
import { describe, expect, it } from "vitest";
import { decodeFieldColumns, encodeFieldColumns, type FieldSpec, type FieldValue } from "../../../src/format/index.ts";
import { metadataValue, parseDate } from "../../../src/search/field-values.ts";
import { FILTER_LIMITS, FilterError, matchDocuments, parseFilter } from "../../../src/search/filter.ts";
import { rng } from "../../../src/random.ts";

const FIELDS: FieldSpec[] = [
  { name: "year", type: "int" }, { name: "published", type: "date" }, { name: "lang", type: "keyword" }, { name: "tags", type: "keyword[]" },
];

function error(filter: unknown): string {
  try {
    parseFilter(filter, FIELDS);
  } catch (e) {
    expect(e).toBeInstanceOf(FilterError);
    expect((e as FilterError).code).toBe("invalid_filter");
    return (e as Error).message;
  }
  return "no error";
}

describe("parseFilter", () => {
  it("refuses unknown fields and operators, naming them and the fields there are", () => {
    expect(error({ author: "x" })).toBe('filter.author: unknown field "author"; this index\'s filterable fields: year, published, lang, tags');
    expect(error({ year: { $regex: "x" } })).toContain('filter.year.$regex: unknown operator "$regex"');
    expect(error({ $not: { year: 1 } })).toContain('unknown operator "$not"');
    expect(parseFilter.bind(null, { a: 1 }, [])).toThrow("none (build it with --fields)");
  });

  it("refuses values of the wrong type, naming the field and what it takes", () => {
    expect(error({ year: "2020" })).toBe('filter.year: year is an int field; expected a number, got "2020"');
    expect(error({ year: { $gte: "2020" } })).toContain("filter.year.$gte: year is an int field");
    expect(error({ lang: 3 })).toContain("filter.lang: lang is a keyword field; expected a string, got 3");
    expect(error({ lang: ["en", "de"] })).toContain('{"$in": [...]}');
    expect(error({ published: { $lt: "yesterday" } })).toContain("published is a date field; expected an ISO 8601 date");
    expect(error({ published: { $lt: "2020-01-01T10:00:00" } })).toContain("ISO 8601"); // a time needs a zone
    expect(error({ lang: { $gt: "a" } })).toContain("lang is a keyword field; $gt takes int and date fields");
    expect(error({ tags: { $in: "a" } })).toContain("filter.tags.$in: expected an array of 1 to 1024 values");
    expect(error({ tags: { $in: [] } })).toContain("expected an array of 1 to");
    expect(error({ tags: { $exists: 1 } })).toContain("expected true or false");
    expect(error({ year: {} })).toContain("filter.year: expected a value");
    expect(error({ year: null })).toContain("got null");
    expect(error([])).toContain("filter: expected an object");
    expect(error({ $or: [] })).toContain("filter.$or: expected a non-empty array");
    expect(error({ $and: [{ year: 1 }, 3] })).toContain("filter.$and[1]: expected an object");
  });

  it("bounds nesting, conditions and $in values", () => {
    let deep: unknown = { year: 1 };
    for (let i = 0; i <= FILTER_LIMITS.depth; i++) deep = { $or: [deep] };
    expect(error(deep)).toContain("nested deeper than");
    expect(error({ $and: Array.from({ length: FILTER_LIMITS.conditions + 1 }, (_, i) => ({ year: i })) })).toContain(`more than ${FILTER_LIMITS.conditions} conditions`);
    expect(error({ lang: { $in: Array.from({ length: FILTER_LIMITS.values + 1 }, (_, i) => `${i}`) } })).toContain("1 to 1024 values");
  });

  it("dates: a day or a time with a zone, as ms since the epoch", () => {
    expect(parseDate("2020-01-31")).toBe(Date.UTC(2020, 0, 31));
    expect(parseDate("2020-01-31T12:00:00+02:00")).toBe(Date.UTC(2020, 0, 31, 10));
    expect(parseDate("2020-01-31T12:00:00")).toBeUndefined();
    expect(parseDate("Jan 31 2020")).toBeUndefined();
    expect(metadataValue("keyword[]", ["a", "a", "b"])).toEqual(["a", "b"]);
    expect(metadataValue("int", 2 ** 31)).toBeNull();
    expect(metadataValue("int", null)).toBeUndefined();
  });
});

describe("matchDocuments", () => {
  const r = rng(5);
  const N = 3000;
  const docs: FieldValue[][] = Array.from({ length: N }, () => [
    r() < 0.2 ? undefined : 2000 + Math.floor(r() * 30),
    r() < 0.2 ? undefined : Date.UTC(2010 + Math.floor(r() * 10), 0, 1),
    r() < 0.2 ? undefined : ["en", "de", "fr"][Math.floor(r() * 3)],
    r() < 0.2 ? undefined : ["a", "b", "c", "d"].filter(() => r() < 0.4),
  ]);
  const cols = decodeFieldColumns(encodeFieldColumns(FIELDS, docs));
  // The semantics written out per document: the reference the bitsets are checked against.
  const year = (i: number) => docs[i][0] as number | undefined;
  const lang = (i: number) => docs[i][2] as string | undefined;
  const tags = (i: number) => docs[i][3] as string[] | undefined;
  const cases: Array<[unknown, (i: number) => boolean]> = [
    [{ year: 2010 }, (i) => year(i) === 2010],
    [{ year: { $ne: 2010 } }, (i) => year(i) !== 2010],
    [{ year: { $gte: 2020, $lt: 2025 } }, (i) => year(i) !== undefined && year(i)! >= 2020 && year(i)! < 2025],
    [{ year: { $lte: 2003.5 } }, (i) => year(i) !== undefined && year(i)! <= 2003],
    [{ year: { $in: [2001, 2002] } }, (i) => year(i) === 2001 || year(i) === 2002],
    [{ year: { $nin: [2001, 2002] } }, (i) => year(i) !== 2001 && year(i) !== 2002],
    [{ year: { $exists: false } }, (i) => year(i) === undefined],
    [{ published: { $gte: "2015-01-01" } }, (i) => docs[i][1] !== undefined && (docs[i][1] as number) >= Date.UTC(2015, 0, 1)],
    [{ lang: "en", tags: "a" }, (i) => lang(i) === "en" && !!tags(i)?.includes("a")],
    [{ lang: "xx" }, () => false],
    [{ lang: { $nin: ["en", "xx"] } }, (i) => lang(i) !== "en"],
    [{ tags: { $in: ["b", "c"] } }, (i) => !!tags(i)?.some((t) => t === "b" || t === "c")],
    [{ tags: { $ne: "a" } }, (i) => !tags(i)?.includes("a")],
    [{ tags: { $exists: true } }, (i) => tags(i) !== undefined],
    [{ $or: [{ lang: "de" }, { $and: [{ year: { $gt: 2025 } }, { tags: "d" }] }] }, (i) => lang(i) === "de" || (year(i)! > 2025 && !!tags(i)?.includes("d"))],
    [{}, () => true],
  ];
  for (const [filter, want] of cases) {
    it(`${JSON.stringify(filter)}`, () => {
      const m = matchDocuments(parseFilter(filter, FIELDS), cols);
      let count = 0;
      const wrong: number[] = [];
      for (let i = 0; i < N; i++) {
        if (m.has(i) !== want(i)) wrong.push(i);
        if (want(i)) count++;
      }
      expect(wrong).toEqual([]);
      expect(m.count).toBe(count);
      expect(m.has(N + 5)).toBe(false); // no bit past the last document
    });
  }
});
