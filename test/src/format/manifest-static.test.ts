// Manifest 2.1: the optional static query tier (`model.static`) and the default encoder (`model.defaultEncoder`); the
// query model's graph optimized at export (`model.graph`, added without a minor version).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseManifest, serializeManifest } from "../../../src/format/index.ts";

const base = () => JSON.parse(readFileSync(new URL("manifests/v1.2.json", import.meta.url), "utf8"));
const SHA = "ab".repeat(32);
const ref = { path: `objects/${SHA}.i3sq`, kind: "static", bytes: 4160048, sha256: SHA };

function withStatic(defaultEncoder?: string) {
  const m = base();
  m.version = { major: 2, minor: 1 };
  m.model.static = { ...ref };
  if (defaultEncoder) m.model.defaultEncoder = defaultEncoder;
  m.objects.push({ ...ref });
  return m;
}

describe("manifest 2.1: the static query tier", () => {
  it("reads and writes model.static and model.defaultEncoder (serialize(parse) round trips)", () => {
    const m = parseManifest(withStatic("static"));
    expect(m.model.static).toEqual(ref);
    expect(m.model.defaultEncoder).toBe("static");
    expect(parseManifest(JSON.parse(serializeManifest(m)))).toStrictEqual(m);
  });

  it("leaves both out when absent (an index without a static tier)", () => {
    const m = parseManifest(base());
    expect(m.model).not.toHaveProperty("static");
    expect(serializeManifest(m)).not.toContain("defaultEncoder");
  });

  it("refuses a static default without a static model, an unknown encoder, a static ref not in objects or of another kind", () => {
    const noModel = base();
    noModel.model.defaultEncoder = "static";
    expect(() => parseManifest(noModel)).toThrow(expect.objectContaining({ code: "invalid_manifest", message: expect.stringContaining("model.defaultEncoder") }));
    expect(() => parseManifest(withStatic("bigram"))).toThrow(expect.objectContaining({ code: "invalid_manifest" }));
    const unlisted = withStatic();
    unlisted.objects.pop();
    expect(() => parseManifest(unlisted)).toThrow(expect.objectContaining({ code: "invalid_manifest", message: expect.stringContaining("model.static") }));
    const kind = withStatic();
    kind.model.static.kind = "model";
    expect(() => parseManifest(kind)).toThrow(expect.objectContaining({ code: "invalid_manifest" }));
  });
});

describe("model.graph: a query model optimized at export", () => {
  it("reads and writes graph \"optimized\", leaves it out when absent, refuses any other value", () => {
    const m = base();
    m.model.graph = "optimized";
    const parsed = parseManifest(m);
    expect(parsed.model.graph).toBe("optimized");
    expect(parseManifest(JSON.parse(serializeManifest(parsed)))).toStrictEqual(parsed);
    expect(serializeManifest(parseManifest(base()))).not.toContain("graph");
    m.model.graph = "all";
    expect(() => parseManifest(m)).toThrow(expect.objectContaining({ code: "invalid_manifest", message: expect.stringContaining("model.graph") }));
  });
});
