// Manifests of every released minor (and a future one), read as they always were: golden files written by the
// writer of each version, and the canonical form a reader of today makes of them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseManifest, serializeManifest } from "../../../src/format/index.ts";

const text = (name: string) => readFileSync(new URL(`manifests/${name}`, import.meta.url), "utf8");

describe("manifest versions", () => {
  it.each(["v1.0.json", "v1.2.json"])("reads %s unchanged: serialize(parse(text)) is the same bytes", (name) => {
    const m = parseManifest(JSON.parse(text(name)));
    expect(serializeManifest(m)).toBe(text(name));
    expect(m).toStrictEqual(JSON.parse(text(name)));
  });

  it("reads 1.0 without a lexical section", () => {
    const m = parseManifest(JSON.parse(text("v1.0.json")));
    expect(m.version).toEqual({ major: 1, minor: 0 });
    expect(m).not.toHaveProperty("lexical");
    expect(m.partitions).toEqual([expect.objectContaining({ id: 0, centroid: null })]);
  });

  it("reads 1.1 (no fusion.normalization) as minmax, the normalization its weight was tuned for", () => {
    const m = parseManifest(JSON.parse(text("v1.1.json")));
    expect(m.version).toEqual({ major: 1, minor: 1 });
    expect(m.lexical!.fusion).toEqual({ mode: "weighted", k: 60, weight: 0.6, depth: 100, normalization: "minmax" });
    expect(m.centroids!.count).toBe(2);
    expect(m).toStrictEqual(JSON.parse(text("v1.1.read.json")));
    expect(serializeManifest(m)).toBe(text("v1.1.read.json"));
  });

  it("reads 1.2 with its fusion normalization", () => {
    const m = parseManifest(JSON.parse(text("v1.2.json")));
    expect(m.lexical!.fusion.normalization).toBe("tmm");
    expect(m.partitions.map((p) => p.centroid)).toEqual([[0.5, -0.5, 0.5, -0.5], [1, 0, 0, 0]]);
  });

  it("reads a future minor (1.9), dropping the fields it does not know and keeping objects of unknown kinds", () => {
    const m = parseManifest(JSON.parse(text("v1.9.json")));
    expect(m.version).toEqual({ major: 1, minor: 9 });
    expect(m).toStrictEqual(JSON.parse(text("v1.9.read.json")));
    expect(serializeManifest(m)).toBe(text("v1.9.read.json"));
    expect(m.objects.map((o) => o.kind)).toContain("future-kind");
  });

  it("rejects the same manifest with another major", () => {
    const json = JSON.parse(text("v1.2.json"));
    json.version.major = 4;
    expect(() => parseManifest(json)).toThrow(expect.objectContaining({ code: "unsupported_version" }));
  });
});
