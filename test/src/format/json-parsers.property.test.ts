// Property tests of the format's JSON parsers: whatever they are given, they return a valid document or throw a
// FormatError whose message names a path, what was expected and what was found; never another exception.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FormatError, manifestKey, parseKeyRecord, parseManifest, parsePointer, serializeManifest, serializePointer,
  type FormatErrorCode,
} from "../../../src/format/index.ts";
import { anyValue, mutationsOf, unknownFieldOf } from "./json-mutations.ts";

const RUNS = { numRuns: 300 };
const manifests = ["v1.0.json", "v1.1.json", "v1.2.json", "v1.9.json"].map((f) =>
  JSON.parse(readFileSync(new URL(`manifests/${f}`, import.meta.url), "utf8")),
);
const SHA = "c".repeat(64);
const pointer = { version: SHA.slice(0, 16), manifest: manifestKey("acme", "docs", SHA.slice(0, 16)), publishedAt: "2025-01-02T03:04:05.000Z", sha256: SHA };
const keyRecord = {
  id: "0123456789abcdef", tenant: "acme", roles: ["search", "publish"], hash: `sha256:${SHA}`, createdAt: "2025-01-01T00:00:00.000Z",
  revokedAt: "2025-02-01T00:00:00.000Z", limits: { rps: 5, burst: 10, maxQueryChars: 512, maxK: 20 }, name: "ci",
};

interface Parser {
  name: string;
  parse: (json: unknown) => unknown;
  /** Text of a parsed document, read back by `parse`. */
  write: (doc: any) => string;
  root: string;
  codes: FormatErrorCode[];
}

const parsers: Parser[] = [
  { name: "manifest", parse: parseManifest, write: serializeManifest, root: "manifest", codes: ["invalid_manifest", "bad_magic", "unsupported_version"] },
  { name: "pointer", parse: (j) => parsePointer(j, { tenant: "acme", index: "docs" }), write: serializePointer, root: "pointer", codes: ["invalid_pointer"] },
  { name: "key record", parse: parseKeyRecord, write: (r) => JSON.stringify(r), root: "key record", codes: ["invalid_key_record"] },
];
const valid: Record<string, unknown[]> = { manifest: manifests, pointer: [pointer], "key record": [keyRecord] };

/** The parser returns a document whose text reads back the same, or throws a well-formed FormatError. */
function checkOutcome(p: Parser, json: unknown): void {
  let doc: unknown;
  try {
    doc = p.parse(json);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    expect(p.codes).toContain(e.code);
    const path = p.root.replace(" ", "\\ ");
    expect(e.message).toMatch(new RegExp(`^${path}(\\.[\\w-]+|\\[\\d+\\])*: expected .+, got .+$`, "s"));
    expect(e.message).not.toMatch(/Invalid input|Too (small|big)|Unrecognized key/);
    return;
  }
  // Compared as text: JSON has one zero, so a -0 read from the input comes back as 0.
  const text = p.write(doc);
  expect(p.write(p.parse(JSON.parse(text)))).toBe(text);
}

describe.each(parsers)("$name parser", (p) => {
  it("returns a document or throws FormatError for any JSON value", () => {
    fc.assert(fc.property(fc.jsonValue(), (json) => checkOutcome(p, json)), RUNS);
  });

  it("returns a document or throws FormatError for any JS value", () => {
    fc.assert(fc.property(fc.oneof(fc.anything(), anyValue), (json) => checkOutcome(p, json)), RUNS);
  });

  it("returns a document or throws FormatError for valid documents with fields dropped, retyped or added", () => {
    const docs = fc.constantFrom(...valid[p.name]).chain(mutationsOf);
    fc.assert(fc.property(docs, (json) => checkOutcome(p, json)), RUNS);
  });
});

describe("unknown fields", () => {
  it.each(manifests.map((m, i) => [["1.0", "1.1", "1.2", "1.9"][i], m]))("are dropped anywhere in a %s manifest", (_, m) => {
    const want = parseManifest(m);
    fc.assert(fc.property(unknownFieldOf(m), (json) => {
      expect(parseManifest(json)).toEqual(want);
    }), { numRuns: 100 });
  });

  it("are dropped anywhere in a pointer", () => {
    fc.assert(fc.property(unknownFieldOf(pointer), (json) => {
      expect(parsePointer(json)).toEqual(pointer);
    }), { numRuns: 100 });
  });
});
