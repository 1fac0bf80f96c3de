// src/format/field-columns.ts and partition-docs.ts: round trips, the header, and crafted bytes (every corruption
// is a FormatError, never another error or a silently different column).
import { describe, expect, it } from "vitest";
import {
  checkFieldColumns, decodeFieldColumns, decodePartitionDocs, encodeFieldColumns, encodePartitionDocs, FIELD_HEADER_BYTES, hasValue,
  FormatError, type FieldSpec, type FieldValue,
} from "../../../src/format/index.ts";
import { rng } from "../../../src/random.ts";
import { code } from "../../helpers/format-error.ts";

const FIELDS: FieldSpec[] = [
  { name: "year", type: "int" }, { name: "published", type: "date" }, { name: "lang", type: "keyword" }, { name: "tags", type: "keyword[]" },
];

function sample(n: number, seed = 1): FieldValue[][] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => [
    i % 7 === 0 ? undefined : 1990 + Math.floor(r() * 40) - (i % 11 === 0 ? 3000 : 0),
    i % 5 === 0 ? undefined : Date.UTC(2000, 0, 1) + Math.floor(r() * 1e11),
    i % 3 === 0 ? undefined : ["en", "de", "fr", "日本語"][Math.floor(r() * 4)],
    i % 4 === 0 ? undefined : Array.from({ length: Math.floor(r() * 4) }, (_, j) => `t${(i + j) % 9}`),
  ]);
}

/** The columns' values of document i, as given to the encoder. */
function valuesOf(cols: ReturnType<typeof decodeFieldColumns>, i: number): FieldValue[] {
  return cols.columns.map((c) => {
    if (!hasValue(c, i)) return undefined;
    if (c.type === "int" || c.type === "date") return c.values[i];
    if (c.type === "keyword") return c.dict[c.ids[i]];
    return Array.from(c.ids.subarray(c.offsets[i], c.offsets[i + 1]), (id) => c.dict[id]);
  });
}

describe("field columns", () => {
  it("round-trips every type, absent values included, and its header is 32 bytes", () => {
    const values = sample(1000);
    const bytes = encodeFieldColumns(FIELDS, values);
    expect(FIELD_HEADER_BYTES).toBe(32);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("I3FC");
    const cols = decodeFieldColumns(bytes);
    expect(cols.documents).toBe(1000);
    expect(cols.columns.map((c) => [c.name, c.type])).toEqual(FIELDS.map((f) => [f.name, f.type]));
    for (let i = 0; i < 1000; i++) expect(valuesOf(cols, i)).toEqual(values[i]);
    expect(checkFieldColumns(FIELDS, cols, 1000)).toBe(cols);
  });

  it("stores keyword ids in 1, 2 or 4 bytes as the dictionary needs (size at N documents)", () => {
    for (const [terms, width] of [[200, 1], [1000, 2], [70_000, 4]] as const) {
      const n = 70_000;
      const bytes = encodeFieldColumns([{ name: "k", type: "keyword" }], Array.from({ length: n }, (_, i) => [`v${i % terms}`]));
      const c = decodeFieldColumns(bytes).columns[0];
      expect(c.type === "keyword" && c.ids.BYTES_PER_ELEMENT).toBe(width);
      expect(c.type === "keyword" && c.dict[c.ids[n - 1]]).toBe(`v${(n - 1) % terms}`);
    }
    // an int column: 4 bytes and a presence bit per document, plus the section header and name
    const ints = encodeFieldColumns([{ name: "year", type: "int" }], Array.from({ length: 100_000 }, (_, i) => [i]));
    expect(ints.length).toBeLessThan(32 + 32 + 100_000 * 4 + 100_000 / 8 + 16);
  });

  it("reads unaligned bytes (copies where a view cannot be made)", () => {
    const bytes = encodeFieldColumns(FIELDS, sample(50));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const cols = decodeFieldColumns(shifted.subarray(1));
    for (let i = 0; i < 50; i++) expect(valuesOf(cols, i)).toEqual(valuesOf(decodeFieldColumns(bytes), i));
  });

  it("rejects a wrong magic, major, header CRC, size, and a schema other than the manifest's", () => {
    const good = encodeFieldColumns(FIELDS, sample(20));
    const magic = good.slice(); magic[0] = 0x58;
    expect(code(() => decodeFieldColumns(magic))).toBe("bad_magic");
    const major = good.slice(); major[4] = 9;
    expect(code(() => decodeFieldColumns(major))).toBe("unsupported_version");
    const crc = good.slice(); crc[12] ^= 1;
    expect(code(() => decodeFieldColumns(crc))).toBe("checksum_mismatch");
    expect(code(() => decodeFieldColumns(good.subarray(0, good.length - 8)))).toBe("truncated");
    expect(code(() => decodeFieldColumns(good.subarray(0, 10)))).toBe("truncated");
    const cols = decodeFieldColumns(good);
    expect(code(() => checkFieldColumns(FIELDS.slice(1), cols, 20))).toBe("invalid_object");
    expect(code(() => checkFieldColumns(FIELDS, cols, 21))).toBe("invalid_object");
  });

  it("fuzz: a flipped or overwritten body byte is a FormatError or decodes within bounds, never another error", () => {
    const good = encodeFieldColumns(FIELDS, sample(64, 3));
    const r = rng(7);
    let rejected = 0;
    for (let t = 0; t < 3000; t++) {
      const bad = good.slice();
      const at = FIELD_HEADER_BYTES + Math.floor(r() * (good.length - FIELD_HEADER_BYTES));
      bad[at] = t % 2 ? bad[at] ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256);
      try {
        const cols = decodeFieldColumns(bad);
        // what decodes is in bounds: every present keyword id names a term, every list within the ids
        let inBounds = true;
        for (let i = 0; i < cols.documents; i++) {
          for (const v of valuesOf(cols, i)) {
            if (Array.isArray(v)) inBounds &&= v.every((s) => typeof s === "string");
            else inBounds &&= v === undefined || typeof v === "number" || typeof v === "string";
          }
        }
        expect(inBounds).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(100);
  });
});

describe("partition documents", () => {
  it("round-trips and rejects crafted bytes", () => {
    const lists = [[0, 3, 7], [], [1, 2, 3, 4, 9]];
    const bytes = encodePartitionDocs(lists, 10);
    const d = decodePartitionDocs(bytes);
    expect(d.documents).toBe(10);
    expect([...d.offsets]).toEqual([0, 3, 3, 8]);
    expect([...d.docs]).toEqual(lists.flat());
    const view = new DataView(bytes.buffer);
    const descending = bytes.slice(); new DataView(descending.buffer).setUint32(32 + 4 * 4 + 4, 0, true);
    expect(code(() => decodePartitionDocs(descending))).toBe("invalid_object");
    const beyond = bytes.slice(); new DataView(beyond.buffer).setUint32(bytes.length - 4, 10, true);
    expect(code(() => decodePartitionDocs(beyond))).toBe("invalid_object");
    const offsets = bytes.slice(); new DataView(offsets.buffer).setUint32(32 + 4, 9, true);
    expect(code(() => decodePartitionDocs(offsets))).toBe("invalid_object");
    expect(code(() => decodePartitionDocs(bytes.subarray(0, bytes.length - 4)))).toBe("truncated");
    expect(view.getUint32(12, true)).toBe(3);
    expect(() => encodePartitionDocs([[2, 1]], 3)).toThrow(RangeError);
  });
});
