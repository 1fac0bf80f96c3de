// Manifest 3.0: the delta section and tombstones of an incrementally updated index (a real manifest written by
// `i3 build --base`, test/src/format/manifests/v3.0-delta.json), their rules, and the tombstones object.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  decodeTombstones, encodeTombstones, FormatError, isDeleted, parseManifest, serializeManifest, TOMBSTONES_HEADER_BYTES,
} from "../../../src/format/index.ts";
import { writeHeaderCrc } from "../../../src/format/binary.ts";

const json = () => JSON.parse(readFileSync(new URL("manifests/v3.0-delta.json", import.meta.url), "utf8"));

function failureOf(j: unknown): string {
  try {
    parseManifest(j);
  } catch (e) {
    return (e as FormatError).message;
  }
  return "parsed";
}

describe("manifest 3.0 (delta and tombstones)", () => {
  it("reads and writes back a manifest with a delta and tombstones", () => {
    const m = parseManifest(json());
    expect(m.version).toEqual({ major: 3, minor: 0 });
    expect(m.delta).toMatchObject({ first: m.corpus.documents, documents: 2, updates: 2 });
    expect(m.tombstones).toMatchObject({ kind: "tombstones", count: 3 });
    expect(parseManifest(JSON.parse(serializeManifest(m)))).toEqual(m);
  });

  it("refuses a delta a 2.x reader would drop, and counts that do not add up", () => {
    const cases: Array<[(j: ReturnType<typeof json>) => void, RegExp]> = [
      [(j) => (j.version.major = 2), /version\.major: expected 3 or later \(the index has a delta or tombstones\)/],
      [(j) => (j.delta.first = 7), /delta\.first: expected corpus\.documents 300, got 7/],
      [(j) => (j.delta.documents = 3), /delta\.docs\.blocks: expected counts summing to delta\.documents 3/],
      [(j) => (j.delta.passages = 9), /delta\.shards: expected counts summing to delta\.passages 9/],
      [(j) => delete j.delta.lexical, /delta\.lexical: expected present \(the base has a lexical section\)/],
      [(j) => delete j.delta.fields, /delta\.fields: expected present \(the base declares fields\)/],
      [(j) => (j.tombstones.count = 301), /tombstones\.count: expected at most corpus\.documents 300/],
      [(j) => (j.objects = j.objects.filter((o: { kind: string }) => o.kind !== "tombstones")), /tombstones: expected an object listed in manifest\.objects/],
      [(j) => (j.objects = j.objects.filter((o: { path: string }) => o.path !== j.delta.shards[0].path)), /delta\.shards\[0\]: expected an object listed/],
    ];
    for (const [change, want] of cases) {
      const j = json();
      change(j);
      expect(failureOf(j)).toMatch(want);
    }
  });
});

describe("tombstones", () => {
  it("round-trips, counting each document once", () => {
    const t = decodeTombstones(encodeTombstones([3, 64, 3, 99], 100));
    expect(t).toMatchObject({ documents: 100, deleted: 3 });
    expect([...Array(100).keys()].filter((o) => isDeleted(t, o))).toEqual([3, 64, 99]);
    expect(isDeleted(t, 100)).toBe(false);
    expect(() => encodeTombstones([100], 100)).toThrow(RangeError);
  });

  it("refuses a count that is not the bits set, and a bit past the documents (each with its header CRC right)", () => {
    const b = encodeTombstones([1, 2], 40);
    const wrongCount = b.slice();
    new DataView(wrongCount.buffer).setUint32(16, 1, true);
    writeHeaderCrc(wrongCount, 28);
    expect(() => decodeTombstones(wrongCount)).toThrow("tombstones: 2 bits set, header says 1");
    const pastEnd = b.slice();
    pastEnd[TOMBSTONES_HEADER_BYTES + 4 + 1] = 0x80; // bit 47, past 40 documents
    new DataView(pastEnd.buffer).setUint32(16, 3, true); // the count of bits set, so only the range check fails
    writeHeaderCrc(pastEnd, 28);
    expect(() => decodeTombstones(pastEnd)).toThrow("tombstones: bits set past document 40");
    const crc = b.slice();
    crc[16] ^= 1;
    expect(() => decodeTombstones(crc)).toThrow(expect.objectContaining({ code: "checksum_mismatch" }));
  });
});
