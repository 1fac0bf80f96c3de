// The TypeScript static encoder (the worker's and i3 eval's) against the Python reference
// (offline/train/static_export.py encode_ids) on the shipped model: same token ids, vectors within 1e-5.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decodeStaticQuery } from "../../../src/format/index.ts";
import { createStaticEncoder } from "../../../src/search/static-encoder.ts";
import { createTokenizer } from "../../../src/text/tokenizer/index.ts";

const FIXTURE = path.join(import.meta.dirname, "../../fixtures/static-query-cases.json");
const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as { model: string; cases: Array<{ text: string; ids: number[]; vector: number[] }> };
const model = decodeStaticQuery(new Uint8Array(readFileSync(path.join(path.dirname(FIXTURE), fixture.model))));
const vocab = JSON.parse(readFileSync(path.join(import.meta.dirname, "../../../models/i3-scifact/vocab.json"), "utf8"));
const encoder = createStaticEncoder(model, createTokenizer(vocab));

describe("static query encoder", () => {
  it.each(fixture.cases.map((c) => [c.text.slice(0, 40), c] as const))("matches Python on %j", (_, c) => {
    const e = encoder.encode(c.text);
    expect(e.tokens).toBe(Math.min(c.ids.length, 32));
    expect(e.truncated).toBe(c.ids.length > 32);
    let maxDiff = 0;
    for (let d = 0; d < 512; d++) maxDiff = Math.max(maxDiff, Math.abs(e.vector[d] - c.vector[d]));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it("has a truncated case in the fixture, and unit vectors", () => {
    expect(fixture.cases.some((c) => c.ids.length > 32)).toBe(true);
    const v = encoder.encode("vitamin D and bone density").vector;
    expect(Math.hypot(...v)).toBeCloseTo(1, 5);
  });

  it("treats ids outside the vocabulary as unk, and sees only the first maxTokens ids", () => {
    expect(encoder.encodeIds([9000, -1])).toEqual(encoder.encodeIds([0, 0]));
    const ids = Array.from({ length: 40 }, (_, i) => 100 + i);
    expect(encoder.encodeIds(ids)).toEqual(encoder.encodeIds(ids.slice(0, 32)));
  });
});
