// The exported schemas are plain zod: the worker's OpenAPI document reuses them, so each must yield a JSON Schema.
import * as z from "zod";
import { describe, expect, it } from "vitest";
import { KeyRecordSchema, LexicalSectionSchema, ManifestSchema, ObjectRefSchema, PointerSchema } from "../../../src/format/index.ts";

describe("format schemas", () => {
  it("yield JSON Schemas with the fields, patterns and bounds of the format", () => {
    const manifest = z.toJSONSchema(ManifestSchema, { io: "input" }) as any;
    expect(manifest.properties.format).toMatchObject({ const: "i3-edge-index" });
    expect(manifest.properties.corpus.properties.documents).toMatchObject({ type: "integer", minimum: 0, maximum: 0xffffffff });
    expect(manifest.required).not.toContain("lexical");
    const lexical = z.toJSONSchema(LexicalSectionSchema, { io: "input" }) as any;
    expect(lexical.properties.fusion.properties.normalization).toMatchObject({ default: "minmax" });
    expect(z.toJSONSchema(ObjectRefSchema)).toMatchObject({ properties: { sha256: { pattern: "^[0-9a-f]{64}$" } } });
    expect(z.toJSONSchema(PointerSchema)).toMatchObject({ required: ["version", "manifest", "publishedAt", "sha256"] });
    expect(z.toJSONSchema(KeyRecordSchema, { io: "input" })).toMatchObject({ properties: { roles: { minItems: 1, items: { enum: ["search", "publish", "admin"] } } } });
  });
});
