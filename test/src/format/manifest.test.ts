import { beforeAll, describe, expect, it } from "vitest";
import {
  FORMAT_NAME, type Manifest, ManifestSchema, createObjectRef, decodeShard, encodeDocBlock, encodeShard, parseManifest,
  quantizeInt8, serializeManifest, sha256Hex, verifyObject,
} from "../../../src/format/index.ts";
import { failure } from "../../helpers/format-error.ts";

const enc = new TextEncoder();
let manifest: Manifest;
let files: Map<string, Uint8Array>;

/** A tiny index built the way the offline writer would: 3 docs, 4 passages, dim 8. */
async function buildIndex(): Promise<{ manifest: Manifest; files: Map<string, Uint8Array> }> {
  const dim = 8;
  const x = new Float32Array(4 * dim).map((_, i) => Math.cos(i));
  const shard = encodeShard({ dims: dim, ...quantizeInt8(x, dim), ordinals: new Uint32Array([0, 0, 1, 2]) });
  const block0 = encodeDocBlock([{ id: "a", text: "alpha" }, { id: "b", text: "beta" }], 0);
  const block1 = encodeDocBlock([{ id: "c", title: "Γ", text: "gamma", metadata: { k: 1 } }], 2);
  const model = new Uint8Array([1, 2, 3]);
  const vocab = enc.encode(JSON.stringify([["▁a", -1]]));
  const refs = {
    shard: await createObjectRef("shard", shard, { count: 4 }),
    b0: await createObjectRef("docs", block0, { count: 2 }),
    b1: await createObjectRef("docs", block1, { count: 1 }),
    model: await createObjectRef("model", model),
    vocab: await createObjectRef("vocab", vocab),
  };
  const m: Manifest = {
    format: FORMAT_NAME,
    version: { major: 1, minor: 0 },
    id: "test-index",
    createdAt: "2025-01-02T03:04:05.000Z",
    corpus: { documents: 3, passages: 4, avgTokens: 12.5 },
    vectors: { dim, quantization: "int8", binary: true, metric: "ip", normalized: true },
    model: { name: "i3-use-lite", maxQueryTokens: 128, query: refs.model, vocab: refs.vocab, tokenizerHash: refs.vocab.sha256 },
    passages: { window: 128, stride: 64, docScore: "max" },
    partitions: [{ id: 0, centroid: null, shards: [refs.shard] }],
    docs: { blocks: [{ ...refs.b0, first: 0, count: 2 }, { ...refs.b1, first: 2, count: 1 }] },
    search: { k: 10, rescore: 200 },
    objects: Object.values(refs),
  };
  const files = new Map<string, Uint8Array>([[refs.shard.path, shard], [refs.b0.path, block0], [refs.b1.path, block1], [refs.model.path, model], [refs.vocab.path, vocab]]);
  return { manifest: m, files };
}

function clone(): any {
  return JSON.parse(serializeManifest(manifest));
}

const failureOf = (json: unknown) => failure(() => parseManifest(json));

beforeAll(async () => {
  ({ manifest, files } = await buildIndex());
});

describe("manifest", () => {
  it("round trips: parse(serialize(m)) == m, and serialize is stable", () => {
    const text = serializeManifest(manifest);
    expect(parseManifest(JSON.parse(text))).toEqual(manifest);
    expect(serializeManifest(parseManifest(JSON.parse(text)))).toBe(text);
    expect(Object.keys(JSON.parse(text))).toEqual([
      "format", "version", "id", "createdAt", "corpus", "vectors", "model", "passages", "partitions", "docs", "search", "objects",
    ]);
  });

  it("gives the same bytes whatever the input key order", () => {
    const shuffled = Object.fromEntries(Object.entries(clone()).reverse());
    expect(serializeManifest(parseManifest(shuffled))).toBe(serializeManifest(manifest));
  });

  it("lists every object with a matching sha256 and size", async () => {
    for (const ref of manifest.objects) await verifyObject(ref, files.get(ref.path)!);
    expect(decodeShard(files.get(manifest.partitions[0].shards[0].path)!).header.count).toBe(4);
  });

  it("reads a higher minor version and ignores unknown fields", () => {
    const m = clone();
    m.version.minor = 7;
    m.futureSection = { anything: true };
    m.corpus.languages = ["en"];
    m.objects.push({ path: `objects/${"f".repeat(64)}.bin`, kind: "future-kind", bytes: 5, sha256: "f".repeat(64) });
    const parsed = parseManifest(m);
    expect(parsed.version.minor).toBe(7);
    expect(parsed).not.toHaveProperty("futureSection");
    expect(parsed.corpus).not.toHaveProperty("languages");
  });

  it("accepts several partitions with inline centroids, or a centroids object", async () => {
    const m = clone();
    const shard = m.partitions[0].shards[0];
    m.partitions = [{ id: 3, centroid: [1, 0, 0, 0, 0, 0, 0, 0], shards: [shard] }, { id: 7, centroid: new Array(8).fill(0.5), shards: [] }];
    expect(parseManifest(m).partitions.map((p) => p.id)).toEqual([3, 7]);

    const c = await createObjectRef("centroids", new Uint8Array(64), { count: 2 });
    m.partitions.forEach((p: any) => (p.centroid = null));
    m.centroids = c;
    m.objects.push(c);
    expect(parseManifest(m).centroids).toEqual(c);
  });

  it("rejects a non-manifest and another major version", () => {
    expect(failureOf({ ...clone(), format: "other" })).toEqual({ code: "bad_magic", message: 'manifest.format: expected "i3-edge-index", got "other"' });
    const { format: _, ...noFormat } = clone();
    expect(failureOf(noFormat)).toEqual({ code: "bad_magic", message: 'manifest.format: expected "i3-edge-index", got nothing' });
    const broken = clone();
    broken.version.major = 4;
    broken.corpus = "changed in 4.0";
    expect(failureOf(broken).code).toBe("unsupported_version");
    const m = clone();
    m.version.major = 4;
    expect(failureOf(m)).toEqual({ code: "unsupported_version", message: "manifest.version.major: expected 1 or 2 or 3, got 4" });
  });

  const cases: Array<[string, (m: any) => void, RegExp]> = [
    ["not an object", () => {}, /^manifest: expected an object/],
    ["missing id", (m) => delete m.id, /manifest\.id: expected a non-empty string, got nothing/],
    ["bad createdAt", (m) => (m.createdAt = "soon"), /createdAt: expected an ISO 8601 time/],
    ["negative documents", (m) => (m.corpus.documents = -1), /corpus\.documents: expected an integer in 0\.\.4294967295, got -1/],
    ["fractional passages", (m) => (m.corpus.passages = 1.5), /corpus\.passages/],
    ["NaN avgTokens", (m) => (m.corpus.avgTokens = "12"), /corpus\.avgTokens/],
    ["dim 0", (m) => (m.vectors.dim = 0), /vectors\.dim/],
    ["quantization", (m) => (m.vectors.quantization = "float32"), /vectors\.quantization: expected "int8", got "float32"/],
    ["metric", (m) => (m.vectors.metric = "cos"), /vectors\.metric/],
    ["binary not boolean", (m) => (m.vectors.binary = "yes"), /vectors\.binary/],
    ["maxQueryTokens > 128", (m) => (m.model.maxQueryTokens = 512), /model\.maxQueryTokens/],
    ["tokenizer hash not the vocab's", (m) => (m.model.tokenizerHash = "0".repeat(64)), /model\.tokenizerHash: expected the vocab sha256/],
    ["vocab of kind model", (m) => (m.model.vocab.kind = "model"), /model\.vocab\.kind: expected "vocab"/],
    ["stride > window", (m) => (m.passages.stride = 129), /passages\.stride: expected an integer in 1\.\.128/],
    ["doc score", (m) => (m.passages.docScore = "sum"), /passages\.docScore/],
    ["no partitions", (m) => (m.partitions = []), /manifest\.partitions: expected a non-empty array/],
    ["duplicate partition id", (m) => m.partitions.push({ id: 0, centroid: null, shards: [] }), /partitions\[1\]\.id: expected a unique id/],
    ["two partitions without centroids", (m) => m.partitions.push({ id: 1, centroid: null, shards: [] }), /every centroid inline/],
    ["centroid of wrong dim", (m) => (m.partitions[0].centroid = [1, 2]), /partitions\[0\]\.centroid: expected 8 numbers, got "2 numbers"/],
    ["shard without count", (m) => { delete m.partitions[0].shards[0].count; }, /shards\[0\]\.count: expected an integer/],
    ["shard counts vs passages", (m) => (m.corpus.passages = 5), /shard counts summing to corpus\.passages 5, got 4/],
    ["doc blocks not contiguous", (m) => (m.docs.blocks[1].first = 3), /blocks\[1\]\.first: expected 2/],
    ["doc counts vs documents", (m) => (m.corpus.documents = 4), /counts summing to corpus\.documents 4, got 3/],
    ["bad object path", (m) => (m.objects[0].path = "../../etc/passwd"), /objects\[0\]\.path: expected objects\/<sha256>\.<ext>/],
    ["path not its sha", (m) => (m.objects[0].path = `objects/${"b".repeat(64)}.i3vs`), /objects\[0\]\.path: expected objects\/[0-9a-f]{64}\.<ext>/],
    ["uppercase sha", (m) => (m.objects[0].sha256 = m.objects[0].sha256.toUpperCase()), /objects\[0\]\.sha256/],
    ["negative bytes", (m) => (m.objects[0].bytes = -1), /objects\[0\]\.bytes/],
    ["duplicate object", (m) => m.objects.push(m.objects[1]), /objects\[5\]\.path: expected a unique path/],
    ["referenced object missing", (m) => m.objects.splice(0, 1), /partitions\[0\]\.shards\[0\]: expected an object listed in manifest\.objects/],
    ["referenced object differs", (m) => (m.docs.blocks[0].bytes += 1), /docs\.blocks\[0\]: expected the entry in manifest\.objects/],
    ["rescore 0", (m) => (m.search.rescore = 0), /search\.rescore/],
    ["lexical not an object", (m) => (m.lexical = 5), /manifest\.lexical: expected an object/],
    ["major not an integer", (m) => (m.version.major = "1"), /^manifest\.version\.major: expected an integer in 0\.\.65535, got "1"$/],
    ["no version", (m) => delete m.version, /^manifest\.version: expected an object, got nothing$/],
    ["centroid not numbers", (m) => (m.partitions[0].centroid = [1, 2, 3, 4, 5, 6, 7, "8"]), /^manifest\.partitions\[0\]\.centroid\[7\]: expected a finite number, got "8"$/],
    ["partitions not an array", (m) => (m.partitions = {}), /^manifest\.partitions: expected a non-empty array, got \{\}$/],
    ["centroids count", (m) => {
      m.partitions.push({ id: 1, centroid: null, shards: [] });
      m.centroids = { path: `objects/${"d".repeat(64)}.f32`, kind: "centroids", bytes: 96, sha256: "d".repeat(64), count: 3 };
      m.objects.push(m.centroids);
    }, /^manifest\.centroids\.count: expected 2 \(one per partition\), got 3$/],
    ["object kind", (m) => (m.objects[0].kind = "Shard"), /^manifest\.objects\[0\]\.kind: expected a non-empty string matching .*, got "Shard"$/],
    ["huge bytes", (m) => (m.objects[0].bytes = 2 ** 60), /^manifest\.objects\[0\]\.bytes: expected an integer in 0\.\.33554432, got 1152921504606847000$/],
    ["scan not int8 or int4", (m) => (m.search.scan = "int2"), /^manifest\.search\.scan: /],
    ["int4 scan without refine rows", (m) => (m.search.scan = "int4"), /^manifest\.search\.scan: expected int8 unless the index is partitioned with refine rows and search\.refine > 0, got "int4"$/],
  ];
  it.each(cases)("rejects %s with invalid_manifest", (_, mutate, message) => {
    const m = _ === "not an object" ? [] : clone();
    mutate(m);
    const f = failureOf(m);
    expect(f.code).toBe("invalid_manifest");
    expect(f.message).toMatch(message);
  });

  it("exports the schema with the rules across sections (ManifestSchema)", () => {
    expect(ManifestSchema.safeParse(clone()).success).toBe(true);
    const m = clone();
    m.docs.blocks[1].first = 3;
    const r = ManifestSchema.safeParse(m);
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path).toEqual(["docs", "blocks", 1, "first"]);
  });

  it("detects a flipped byte in a listed object", async () => {
    const ref = manifest.partitions[0].shards[0];
    const bytes = files.get(ref.path)!.slice();
    bytes[bytes.length - 1] ^= 0x80;
    await expect(verifyObject(ref, bytes)).rejects.toMatchObject({ code: "checksum_mismatch" });
    expect(await sha256Hex(bytes)).not.toBe(ref.sha256);
  });
});
