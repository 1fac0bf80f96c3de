import { describe, expect, it } from "vitest";
import { decodeIdBucket, encodeIdBucket, idBucketCount, idBucketOf, ID_HEADER_BYTES } from "../../../src/format/index.ts";
import { code } from "../../helpers/format-error.ts";

describe("id index buckets", () => {
  const B = 3;
  const ids = ["doc-1", "doc-2", "Ω/ü 3", "", "x".repeat(300)].map((id, ordinal) => [id, ordinal] as [string, number]);
  const bucket = (b: number) => encodeIdBucket(b, B, ids.filter(([id]) => idBucketOf(id, B) === b));

  it("round trips: every id found in its bucket with its ordinal, and no other", () => {
    for (let b = 0; b < B; b++) {
      const d = decodeIdBucket(bucket(b), ids.length);
      expect(d).toMatchObject({ id: b, buckets: B });
      for (const [id, ordinal] of ids) expect(d.ordinals.get(id)).toBe(idBucketOf(id, B) === b ? ordinal : undefined);
    }
    expect(idBucketCount(0)).toBe(1);
    expect(idBucketCount(1024)).toBe(1);
    expect(idBucketCount(1025)).toBe(2);
  });

  it("refuses ids of another bucket and duplicates when writing", () => {
    const wrong = ids.find(([id]) => idBucketOf(id, B) !== 0)!;
    expect(() => encodeIdBucket(0, B, [wrong])).toThrow(RangeError);
    const one = ids.find(([id]) => idBucketOf(id, B) === 0)!;
    expect(() => encodeIdBucket(0, B, [one, one])).toThrow(/twice/);
  });

  it("rejects corrupt bytes with a FormatError code, never another exception", () => {
    const b = bucket(idBucketOf("doc-1", B));
    expect(code(() => decodeIdBucket(b.subarray(0, b.length - 1), ids.length))).toBe("truncated");
    const magic = b.slice();
    magic[0] = 0x58;
    expect(code(() => decodeIdBucket(magic, ids.length))).toBe("bad_magic");
    // An ordinal past the index's documents.
    expect(code(() => decodeIdBucket(b, 1))).toBe("invalid_object");
    for (let i = ID_HEADER_BYTES; i < b.length; i++) {
      const m = b.slice();
      m[i] ^= 0xff;
      try {
        decodeIdBucket(m, ids.length);
      } catch (e) {
        expect((e as { code?: string }).code).toMatch(/^(invalid_object|truncated)$/);
      }
    }
  });
});
