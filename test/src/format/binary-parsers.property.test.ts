// Property tests of the format's binary readers, the parsers of untrusted bytes the worker reads from R2: vector
// shards and partitions, the int4 form of a partition, centroid and refine rows, doc blocks (header, offsets, records), lexical buckets (and their
// postings) and norms, tombstones, and the ONNX reader the query model's engine parses a model with. Whatever bytes they are given (random, or a valid object changed in a few places with its
// CRCs stamped again), they return a value or throw a FormatError: never another exception, never a hang, and
// never a read outside their input (a value decoded from the same bytes is the same whatever lies around them).
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readOnnx } from "../../../src/format/onnx.ts";
import {
  decodeDocBlock, decodeDocRecord, decodeFloatRows, decodeLexicalBucket, decodeLexicalNorms, decodeShard,
  encodeDocBlock, encodeFloatRows, encodeLexicalBucket, encodeLexicalNorms, encodeShard, forEachPosting, FormatError,
  quantizeInt8, readDocBlockHeader, readDocBlockIndex, signCodes, bucketOf, decodeTombstones, encodeTombstones,
  decodeInt4Partition, encodeInt4Partition,
} from "../../../src/format/index.ts";
import { applyOps, byteOps, embedded, plain, restampDocOffsets, restampHeader, viewsWithin } from "./binary-mutations.ts";

const RUNS = { numRuns: 400 };
const DOCUMENTS = 12;

interface BinaryParser {
  name: string;
  /** Valid objects to change. */
  valid: Uint8Array[];
  /** Bytes of the fixed header (where field changes go). */
  headerBytes: number;
  /** Stamps the object's CRCs again after a change. */
  restamp: (b: Uint8Array) => void;
  /** The reader, down to every value it yields (postings are read through). */
  decode: (b: Uint8Array) => unknown;
}

function shard(): Uint8Array {
  const x = new Float32Array(3 * 8).map((_, i) => Math.sin(i + 1));
  return encodeShard({ dims: 8, ...quantizeInt8(x, 8), codes: signCodes(x, 8), ordinals: new Uint32Array([0, 4, 11]), firstPassage: 7 });
}

const bucketTerms = (B: number, id: number) =>
  ["bone", "densiti", "vitamin", "d", "骨密度", "run", "cell"]
    .filter((t) => bucketOf(t, B) === id)
    .map((term, i) => ({ term, docs: [i, i + 3, DOCUMENTS - 1], tfs: [1, 2, 300] }));

/** Every posting of every term of a decoded bucket, read. */
function readPostings(b: ReturnType<typeof decodeLexicalBucket>): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  for (const [term, t] of b.terms) forEachPosting(b, t, (doc, tf) => out.push([term, doc, tf]));
  return out;
}

const parsers: BinaryParser[] = [
  { name: "vector shard (and partition)", valid: [shard()], headerBytes: 64, restamp: (b) => restampHeader(b, 60), decode: decodeShard },
  {
    name: "centroid rows", valid: [encodeFloatRows("centroids", 4, new Float32Array(12).map((_, i) => i / 7))], headerBytes: 32,
    restamp: (b) => restampHeader(b, 28), decode: (b) => decodeFloatRows("centroids", b),
  },
  {
    name: "int4 partition (the colo's form)",
    valid: [encodeInt4Partition({ dims: 32, count: 3, shard: "ab".repeat(32), packed: new Uint8Array(48).map((_, i) => (i * 37) & 0xff), scales: new Float32Array([0.1, 0.2, 0.3]), ordinals: new Uint32Array([2, 5, 9]) })],
    headerBytes: 64, restamp: (b) => restampHeader(b, 60), decode: (b) => decodeInt4Partition(b, { dims: 32, count: 3, shard: "ab".repeat(32) }),
  },
  {
    name: "refine rows", valid: [encodeFloatRows("refine", 4, new Float32Array(20).map((_, i) => i / 9))], headerBytes: 32,
    restamp: (b) => restampHeader(b, 28), decode: (b) => decodeFloatRows("refine", b),
  },
  {
    name: "doc block header", valid: [encodeDocBlock([{ id: "a", text: "alpha" }], 3)], headerBytes: 40,
    restamp: (b) => (restampDocOffsets(b), restampHeader(b, 36)), decode: readDocBlockHeader,
  },
  {
    name: "doc block index (header + offsets table, a range-read prefix)",
    valid: [encodeDocBlock([{ id: "a", text: "alpha" }, { id: "b", title: "β", text: "beta", metadata: { k: [1] } }], 5)], headerBytes: 40,
    restamp: (b) => (restampDocOffsets(b), restampHeader(b, 36)), decode: readDocBlockIndex,
  },
  {
    name: "doc block (every record)",
    valid: [encodeDocBlock([{ id: "a", text: "alpha" }, { id: "b", title: "β", text: "beta", metadata: { k: [1] } }, { id: "c", text: "" }], 5)],
    headerBytes: 40, restamp: (b) => (restampDocOffsets(b), restampHeader(b, 36)), decode: decodeDocBlock,
  },
  {
    name: "lexical bucket and its postings", valid: [encodeLexicalBucket(0, 1, bucketTerms(1, 0)), encodeLexicalBucket(1, 2, bucketTerms(2, 1))],
    headerBytes: 32, restamp: (b) => restampHeader(b, 28), decode: (b) => readPostings(decodeLexicalBucket(b)),
  },
  {
    name: "lexical bucket checked against the documents count",
    valid: [encodeLexicalBucket(0, 1, bucketTerms(1, 0))], headerBytes: 32, restamp: (b) => restampHeader(b, 28),
    decode: (b) => {
      const postings = readPostings(decodeLexicalBucket(b, DOCUMENTS));
      // A bucket that decodes holds no posting a query could not score.
      for (const [, doc, tf] of postings) if (!(doc < DOCUMENTS && tf >= 1)) throw new Error(`posting (${doc}, ${tf}) passed the check`);
      return postings;
    },
  },
  { name: "lexical norms", valid: [encodeLexicalNorms([0, 3, 24, 100, 70000])], headerBytes: 32, restamp: (b) => restampHeader(b, 28), decode: decodeLexicalNorms },
  {
    name: "tombstones", valid: [encodeTombstones([0, 5, 31, 32, 69], 70), encodeTombstones([], 64), encodeTombstones([3], 4)], headerBytes: 32,
    restamp: (b) => restampHeader(b, 28), decode: decodeTombstones,
  },
  {
    name: "ONNX model (protobuf: no CRC)", valid: [new Uint8Array(readFileSync(new URL("../../fixtures/tiny-encoder.onnx", import.meta.url)))],
    headerBytes: 16, restamp: () => {}, decode: readOnnx,
  },
];

/** The reader's outcome: a value (plain, for comparison) or a FormatError code; any other exception fails. */
function outcome(p: BinaryParser, bytes: Uint8Array): { value?: unknown; code?: string } {
  let v: unknown;
  try {
    v = p.decode(bytes);
  } catch (e) {
    if (e instanceof FormatError) return { code: e.code };
    throw e;
  }
  expect(viewsWithin(v, bytes)).toBe(true);
  return { value: plain(v) };
}

/** The same outcome whatever surrounds the bytes in memory: nothing outside them was read. */
function checkBytes(p: BinaryParser, bytes: Uint8Array): void {
  const a = outcome(p, embedded(bytes, 0x00));
  const b = outcome(p, embedded(bytes, 0xff));
  expect(b).toEqual(a);
}

describe.each(parsers)("$name", (p) => {
  it("reads its valid objects", () => {
    for (const v of p.valid) expect(outcome(p, v).code).toBeUndefined();
  });

  it("returns a value or throws FormatError for random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (b) => checkBytes(p, b)), RUNS);
  });

  it("returns a value or throws FormatError for a valid object changed in a few places", () => {
    fc.assert(fc.property(fc.constantFrom(...p.valid), byteOps(p.headerBytes), (v, ops) => checkBytes(p, applyOps(v, ops))), RUNS);
  });

  it("returns a value or throws FormatError for a valid object changed with its CRCs stamped again", () => {
    fc.assert(fc.property(fc.constantFrom(...p.valid), byteOps(p.headerBytes), (v, ops) => {
      const b = applyOps(v, ops);
      p.restamp(b);
      checkBytes(p, b);
    }), RUNS);
  });
});

describe("doc record", () => {
  const text = fc.oneof(
    fc.json(),
    fc.constantFrom('{"id":"a","text":"x"}', '{"id":1,"text":"x"}', '{"id":"a"}', "[]", "null", "{}", "[".repeat(20_000), '{"id":"a","text":"x","metadata":[]}'),
    fc.string(),
  );

  it("returns a document or throws FormatError for any bytes or JSON text", () => {
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 128 }), text.map((t) => new TextEncoder().encode(t)));
    fc.assert(fc.property(bytes, (b) => {
      const o = outcome({ name: "record", valid: [], headerBytes: 0, restamp: () => {}, decode: decodeDocRecord }, b);
      if (o.value) expect(o.value).toMatchObject({ id: expect.any(String), text: expect.any(String) });
    }), RUNS);
  });
});
