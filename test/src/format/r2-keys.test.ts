import { describe, expect, it } from "vitest";
import {
  indexPrefix, manifestKey, objectKey, parsePointer, PointerSchema, pointerKey, serializePointer, sha256Hex,
  validateName, versionIdOf,
} from "../../../src/format/index.ts";
import { code } from "../../helpers/format-error.ts";

const SHA = "a".repeat(64);

describe("R2 keys", () => {
  it("lays out objects, manifests and the pointer under the index prefix", () => {
    expect(indexPrefix("acme", "docs-v2")).toBe("tenants/acme/indexes/docs-v2/");
    expect(objectKey("acme", "docs", `objects/${SHA}.i3vs`)).toBe(`tenants/acme/indexes/docs/objects/${SHA}.i3vs`);
    expect(manifestKey("acme", "docs", "0123456789abcdef")).toBe("tenants/acme/indexes/docs/manifests/0123456789abcdef.json");
    expect(pointerKey("acme", "docs")).toBe("tenants/acme/indexes/docs/current");
  });

  it.each(["../x", "", "Acme", "a/b", ".", "-a", "_a", "a b", "a".repeat(64), "a\0", "é"])("rejects the name %j", (name) => {
    expect(code(() => validateName("tenant", name))).toBe("invalid_name");
    expect(code(() => indexPrefix(name, "ok"))).toBe("invalid_name");
    expect(code(() => pointerKey("ok", name))).toBe("invalid_name");
  });

  it("accepts names at the limits", () => {
    expect(validateName("index", "a".repeat(63))).toBe("a".repeat(63));
    expect(validateName("index", "0_a-b")).toBe("0_a-b");
  });

  it("rejects object paths and versions that could escape", () => {
    for (const p of ["objects/../current", `objects/${SHA}`, `objects/${SHA}.i3vs/../x`, `${SHA}.i3vs`, `objects/${SHA.toUpperCase()}.bin`]) {
      expect(code(() => objectKey("acme", "docs", p))).toBe("invalid_name");
    }
    for (const v of ["../current", "0123456789ABCDEF", "abc"]) expect(code(() => manifestKey("acme", "docs", v))).toBe("invalid_name");
  });

  it("derives the version id from the manifest sha256", async () => {
    const sha = await sha256Hex(new TextEncoder().encode("{}"));
    expect(versionIdOf(sha)).toBe(sha.slice(0, 16));
  });
});

describe("pointer", () => {
  const good = { version: SHA.slice(0, 16), manifest: manifestKey("acme", "docs", SHA.slice(0, 16)), publishedAt: "2025-01-02T03:04:05.000Z", sha256: SHA };

  it("round trips", () => {
    expect(parsePointer(JSON.parse(serializePointer(good)), { tenant: "acme", index: "docs" })).toEqual(good);
  });

  it.each([
    ["not an object", null],
    ["version not the sha prefix", { ...good, version: "b".repeat(16) }],
    ["short sha", { ...good, sha256: "abc" }],
    ["bad time", { ...good, publishedAt: "yesterday" }],
    ["manifest key of another version", { ...good, manifest: "tenants/acme/indexes/docs/manifests/bbbbbbbbbbbbbbbb.json" }],
  ])("rejects %s", (_, p) => {
    expect(code(() => parsePointer(p))).toBe("invalid_pointer");
  });

  it.each([
    ["not an object", null, /^pointer: expected an object, got null$/],
    ["short sha", { ...good, sha256: "abc" }, /^pointer\.sha256: expected 64 lower-case hex .*, got "abc"$/],
    ["version not the sha prefix", { ...good, version: "b".repeat(16) }, /^pointer\.version: expected a{16} \(sha256 prefix\), got "b{16}"$/],
    ["bad time", { ...good, publishedAt: "yesterday" }, /^pointer\.publishedAt: expected an ISO 8601 time, got "yesterday"$/],
    ["manifest of another version", { ...good, manifest: "x/manifests/bbbbbbbbbbbbbbbb.json" }, /^pointer\.manifest: expected a key ending in \/manifests\/a{16}\.json, got "x\//],
    ["manifest of another index", { ...good, manifest: manifestKey("evil", "docs", good.version) }, /^pointer\.manifest: expected tenants\/acme\/indexes\/docs\/manifests\/a{16}\.json, got "tenants\/evil\//],
  ])("names the field of %s, what it expected and what it got", (_, p, message) => {
    expect(() => parsePointer(p, { tenant: "acme", index: "docs" })).toThrow(message);
  });

  it("drops unknown fields; PointerSchema is the same check", () => {
    expect(parsePointer({ ...good, note: "x" })).toEqual(good);
    expect(PointerSchema.safeParse(good).success).toBe(true);
    expect(PointerSchema.safeParse({ ...good, version: "b".repeat(16) }).success).toBe(false);
  });

  it("rejects a manifest key outside the expected index", () => {
    const other = { ...good, manifest: manifestKey("evil", "docs", good.version) };
    expect(parsePointer(other).manifest).toBe(other.manifest);
    expect(code(() => parsePointer(other, { tenant: "acme", index: "docs" }))).toBe("invalid_pointer");
  });
});
