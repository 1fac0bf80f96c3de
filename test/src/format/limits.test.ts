// The index limits (src/format/limits.ts) as the manifest parser enforces them, and the checks of crafted objects
// against the manifest that the decoders make (issue #13, defects 1 and 7).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  checkDocBlock, decodeLexicalBucket, encodeDocBlock, encodeLexicalBucket, forEachPosting, INDEX_LIMITS, parseManifest,
  readDocBlockHeader,
} from "../../../src/format/index.ts";
import { failure } from "../../helpers/format-error.ts";

const v11 = JSON.parse(readFileSync(new URL("manifests/v1.1.json", import.meta.url), "utf8"));

/** `n` extra objects of `bytes` bytes each (listed, referenced by no section: still counted). */
function withExtraObjects(n: number, bytes: number) {
  const m = structuredClone(v11);
  for (let i = 0; i < n; i++) {
    const sha = `e${i.toString(16).padStart(63, "0")}`;
    m.objects.push({ path: `objects/${sha}.bin`, kind: "extra", bytes, sha256: sha });
  }
  return m;
}

describe("index limits in the manifest", () => {
  it("are what README and ARCHITECTURE say, and fit the measured 1M-passage index with room", () => {
    expect(INDEX_LIMITS).toEqual({
      maxManifestBytes: 16 * 2 ** 20, maxObjects: 16_384, maxObjectBytes: 32 * 2 ** 20, maxIndexBytes: 16 * 2 ** 30, maxPointerBytes: 4096,
    });
    // docs/RESULTS.md section 9: 3,566 objects, a 2 MB manifest, 1.75 GB, the largest object 7.1 MB.
    expect(INDEX_LIMITS.maxObjects).toBeGreaterThan(4 * 3566);
    expect(INDEX_LIMITS.maxIndexBytes).toBeGreaterThan(8 * 1.75e9);
  });

  it("a manifest within them parses", () => {
    expect(parseManifest(withExtraObjects(10, INDEX_LIMITS.maxObjectBytes)).objects).toHaveLength(v11.objects.length + 10);
  });

  it("an object over the size limit -> invalid_manifest", () => {
    const f = failure(() => parseManifest(withExtraObjects(1, INDEX_LIMITS.maxObjectBytes + 1)));
    expect(f.code).toBe("invalid_manifest");
    expect(f.message).toBe(`manifest.objects[${v11.objects.length}].bytes: expected an integer in 0..${INDEX_LIMITS.maxObjectBytes}, got ${INDEX_LIMITS.maxObjectBytes + 1}`);
  });

  it("more objects than the limit -> invalid_manifest", () => {
    const extra = INDEX_LIMITS.maxObjects - v11.objects.length + 1;
    const f = failure(() => parseManifest(withExtraObjects(extra, 1)));
    expect(f).toEqual({ code: "invalid_manifest", message: `manifest.objects: expected at most ${INDEX_LIMITS.maxObjects} objects, got ${INDEX_LIMITS.maxObjects + 1}` });
  });

  it("objects over the index's total -> invalid_manifest", () => {
    const n = Math.ceil(INDEX_LIMITS.maxIndexBytes / INDEX_LIMITS.maxObjectBytes) + 1;
    const f = failure(() => parseManifest(withExtraObjects(n, INDEX_LIMITS.maxObjectBytes)));
    expect(f.code).toBe("invalid_manifest");
    expect(f.message).toMatch(new RegExp(`^manifest\\.objects: expected objects of at most ${INDEX_LIMITS.maxIndexBytes} bytes in all, got \\d+$`));
  });
});

describe("a doc block against its manifest reference", () => {
  const block = encodeDocBlock([{ id: "a", text: "alpha" }, { id: "b", text: "beta" }], 10);
  const header = readDocBlockHeader(block);
  const ref = { first: 10, count: 2, bytes: block.byteLength };

  it("passes when first ordinal, count and size agree", () => {
    expect(failure(() => checkDocBlock(header, ref)).code).toBe("no error");
  });

  it.each([
    ["another first ordinal", { ...ref, first: 0 }],
    ["another count", { ...ref, count: 3 }],
    ["another size", { ...ref, bytes: ref.bytes + 1 }],
  ])("%s -> invalid_object", (_, other) => {
    const f = failure(() => checkDocBlock(header, other));
    expect(f.code).toBe("invalid_object");
    expect(f.message).toContain("manifest");
  });
});

describe("lexical postings against the documents count", () => {
  const bucket = encodeLexicalBucket(0, 1, [{ term: "bone", docs: [0, 5, 9], tfs: [1, 2, 1] }]);

  it("a bucket whose documents are all below the count decodes", () => {
    const d = decodeLexicalBucket(bucket, 10);
    const docs: number[] = [];
    forEachPosting(d, d.terms.get("bone")!, (doc) => docs.push(doc));
    expect(docs).toEqual([0, 5, 9]);
  });

  it("a posting of a document past the count -> invalid_object when it is read, never a score", () => {
    const d = decodeLexicalBucket(bucket, 9); // the dictionary only: postings are checked as a query reads them
    const f = failure(() => forEachPosting(d, d.terms.get("bone")!, () => {}));
    expect(f.code).toBe("invalid_object");
    expect(f.message).toContain("doc 9");
  });

  it("postings whose doc deltas are 0 after the first (not ascending) -> invalid_object", () => {
    // Built by hand: the encoder refuses them. Term "bone", df 2, postings (0, tf 1), (+0, tf 1).
    const good = encodeLexicalBucket(0, 1, [{ term: "bone", docs: [0, 1], tfs: [1, 1] }]);
    const bytes = good.slice();
    bytes[bytes.length - 2] = 0; // the second delta
    const read = (b: Uint8Array) => () => {
      const d = decodeLexicalBucket(b, 10);
      forEachPosting(d, d.terms.get("bone")!, () => {});
    };
    expect(failure(read(bytes)).code).toBe("invalid_object");
    expect(failure(read(good)).code).toBe("no error");
  });
});
