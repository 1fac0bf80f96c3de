// `i3 build` / `i3 merge` end to end on a tiny corpus with the tiny ONNX model (real onnxruntime-node, real files):
// read back with src/format, resume after a simulated crash, --shard k/n + merge, and the CLI's exit codes.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex, type BuildOptions } from "../../../offline/build/build.ts";
import { DEFAULT_FUSION } from "../../../offline/build/bm25.ts";
import { mergeIndexes } from "../../../offline/build/merge.ts";
import { passageCount, passageText } from "../../../src/text/passages.ts";
import { createTokenizer } from "../../../src/text/tokenizer/index.ts";
import {
  decodeIdBucket, idBucketCount, idBucketOf,
  decodeDocBlock, decodeShard, parseManifest, sha256Hex, type Doc, type Manifest,
} from "../../../src/format/index.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const FIX = path.join(ROOT, "test/fixtures/corpus-tiny");
const MODEL = path.join(FIX, "model");
const CORPUS = path.join(FIX, "good.jsonl");
const quiet = { write: () => true };
let tmp: string;

const base = (out: string, o: Partial<BuildOptions> = {}): BuildOptions => ({
  corpus: CORPUS, model: MODEL, out: path.join(tmp, out), device: "cpu", stderr: quiet, shardSize: 4, docsPerBlock: 3, batch: 3, ...o,
});

interface ReadBack {
  manifest: Manifest;
  docs: Doc[];
  /** per passage, in passage order: doc ordinal, int8 vector, scale */
  passages: Array<{ doc: number; vector: number[]; scale: number }>;
}

async function readBack(dir: string): Promise<ReadBack> {
  const manifest = parseManifest(JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")));
  const bytesOf = async (p: string) => new Uint8Array(await readFile(path.join(dir, p)));
  for (const o of manifest.objects) {
    const b = await bytesOf(o.path);
    expect(b.byteLength).toBe(o.bytes);
    expect(await sha256Hex(b)).toBe(o.sha256);
  }
  const passages: ReadBack["passages"] = [];
  for (const ref of manifest.partitions[0].shards) {
    const s = decodeShard(await bytesOf(ref.path));
    expect(s.header.firstPassage).toBe(passages.length);
    expect(s.header.count).toBe(ref.count);
    const d = s.header.dims;
    for (let i = 0; i < s.header.count; i++) {
      passages.push({ doc: s.ordinals[i], vector: [...s.vectors.subarray(i * d, (i + 1) * d)], scale: s.scales[i] });
    }
  }
  const docs: Doc[] = [];
  for (const ref of manifest.docs.blocks) docs.push(...decodeDocBlock(await bytesOf(ref.path)));
  return { manifest, docs, passages };
}

const objectsOf = (m: Manifest) => m.objects.map((o) => o.path).sort();
/** A build that stops, as a crash would, after `n` shards of this run are written and checkpointed. */
const crashAfter = (n: number): Partial<BuildOptions> => ({
  onShardWritten: (written) => {
    if (written >= n) throw new Error(`simulated crash after ${written} shard(s)`);
  },
});

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-build-index-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("i3 build", () => {
  let ref: ReadBack;
  beforeAll(async () => {
    await buildIndex(base("ref"));
    ref = await readBack(path.join(tmp, "ref"));
  });

  it("writes a manifest that parses, with the model, stats and search defaults", async () => {
    const m = ref.manifest;
    expect(m.corpus.documents).toBe(12);
    expect(m.corpus.passages).toBe(21);
    expect(m.vectors).toMatchObject({ dim: 2, quantization: "int8", binary: true, normalized: false });
    expect(m.model).toMatchObject({ name: "tiny", maxQueryTokens: 16 });
    const vocab = await readFile(path.join(MODEL, "vocab.json"));
    expect(m.model.tokenizerHash).toBe(await sha256Hex(new Uint8Array(vocab)));
    expect(m.model.query.sha256).toBe(await sha256Hex(new Uint8Array(await readFile(path.join(ROOT, "test/fixtures/tiny-encoder.onnx")))));
    expect(m.passages).toEqual({ window: 8, stride: 6, docScore: "max" });
    expect(m.partitions).toHaveLength(1);
    expect(m.partitions[0].centroid).toBeNull();
    expect(m.partitions[0].shards.map((s) => s.count)).toEqual([4, 4, 4, 4, 4, 1]);
    expect(m.docs.blocks.map((b) => [b.first, b.count])).toEqual([[0, 3], [3, 3], [6, 3], [9, 3]]);
    expect(m.search).toEqual({ k: 10, rescore: 1000 });
    expect(existsSync(path.join(tmp, "ref.partial"))).toBe(false);
    expect(existsSync(path.join(tmp, "ref", "checkpoint.json"))).toBe(false);
  });

  it("writes the model's fusion record into the index (a weight without normalization means minmax); options override it", async () => {
    expect(ref.manifest.lexical!.fusion).toEqual(DEFAULT_FUSION);
    const sidecar = JSON.parse(await readFile(path.join(MODEL, "model.json"), "utf8"));
    const withFusion = async (name: string, fusion: object) => {
      const dir = path.join(tmp, name);
      await mkdir(dir);
      const rel = (f: string) => path.relative(dir, path.join(MODEL, f));
      await writeFile(path.join(dir, "model.json"), JSON.stringify({ ...sidecar, query: rel(sidecar.query), passage: rel(sidecar.passage), vocab: rel(sidecar.vocab), fusion }));
      return dir;
    };
    const legacy = await withFusion("model-legacy", { mode: "weighted", weight: 0.4 });
    await buildIndex(base("fusion-legacy", { model: legacy }));
    expect((await readBack(path.join(tmp, "fusion-legacy"))).manifest.lexical!.fusion).toEqual({ ...DEFAULT_FUSION, weight: 0.4, normalization: "minmax" });
    const tuned = await withFusion("model-tmm", { mode: "weighted", weight: 0.6, normalization: "tmm" });
    await buildIndex(base("fusion-tmm", { model: tuned }));
    expect((await readBack(path.join(tmp, "fusion-tmm"))).manifest.lexical!.fusion).toEqual({ ...DEFAULT_FUSION, weight: 0.6, normalization: "tmm" });
    await buildIndex(base("fusion-override", { model: tuned, lexicalOptions: { fusion: { normalization: "minmax", weight: 0.2 } } }));
    expect((await readBack(path.join(tmp, "fusion-override"))).manifest.lexical!.fusion).toEqual({ ...DEFAULT_FUSION, weight: 0.2, normalization: "minmax" });
  });

  it("ships the model's static query tier (model.json static) in the index as model.static, with its default encoder", async () => {
    expect(ref.manifest.model).not.toHaveProperty("static");
    const sidecar = JSON.parse(await readFile(path.join(MODEL, "model.json"), "utf8"));
    const staticFile = path.join(MODEL, "query.static.i3sq"); // written by scripts/fixtures/make-static-tiny.py
    const withStatic = async (name: string, extra: object, file = staticFile) => {
      const dir = path.join(tmp, name);
      await mkdir(dir);
      const rel = (f: string) => path.relative(dir, path.join(MODEL, f));
      await writeFile(path.join(dir, "model.json"), JSON.stringify({ ...sidecar, query: rel(sidecar.query), passage: rel(sidecar.passage), vocab: rel(sidecar.vocab), static: path.relative(dir, file), ...extra }));
      return dir;
    };
    await buildIndex(base("static", { model: await withStatic("model-static", { defaultEncoder: "static" }) }));
    const m = (await readBack(path.join(tmp, "static"))).manifest;
    const bytes = new Uint8Array(await readFile(staticFile));
    expect(m.version).toEqual({ major: 2, minor: 1 });
    expect(m.model.static).toEqual({ path: `objects/${await sha256Hex(bytes)}.i3sq`, kind: "static", bytes: bytes.byteLength, sha256: await sha256Hex(bytes) });
    expect(m.model.defaultEncoder).toBe("static");
    expect(m.objects).toContainEqual(m.model.static);

    const broken = path.join(tmp, "broken.i3sq");
    await writeFile(broken, bytes.subarray(0, 60));
    await expect(buildIndex(base("static-broken", { model: await withStatic("model-static-broken", {}, broken) }))).rejects.toMatchObject({ code: "invalid_model", message: expect.stringContaining("static query model") });
    await expect(buildIndex(base("static-dims", { model: await withStatic("model-static-dims", { dim: 3 }) }))).rejects.toMatchObject({ code: "invalid_model" });
    await expect(buildIndex(base("static-default", { model: await withStatic("model-no-static", { static: undefined, defaultEncoder: "static" }) }))).rejects.toMatchObject({ code: "invalid_model", message: expect.stringContaining("defaultEncoder") });
  });

  it("says in the manifest (model.graph) that the shipped query model's graph was optimized at export, and only then", async () => {
    expect(ref.manifest.model).not.toHaveProperty("graph");
    const sidecar = JSON.parse(await readFile(path.join(MODEL, "model.json"), "utf8"));
    const withGraph = async (name: string, extra: object) => {
      const dir = path.join(tmp, name);
      await mkdir(dir);
      const rel = (f: string) => path.relative(dir, path.join(MODEL, f));
      await writeFile(path.join(dir, "model.json"), JSON.stringify({ ...sidecar, query: rel(sidecar.query), passage: rel(sidecar.passage), vocab: rel(sidecar.vocab), ...extra }));
      return dir;
    };
    const edge = { edgeQuery: path.relative(path.join(tmp, "model-graph"), path.join(MODEL, sidecar.query)), edgeQueryGraph: "optimized" };
    await buildIndex(base("graph", { model: await withGraph("model-graph", edge) }));
    expect((await readBack(path.join(tmp, "graph"))).manifest.model.graph).toBe("optimized");
    await expect(buildIndex(base("graph-bad", { model: await withGraph("model-graph-bad", { ...edge, edgeQueryGraph: "all" }) }))).rejects.toMatchObject({ code: "invalid_model", message: expect.stringContaining("edgeQueryGraph") });
    await expect(buildIndex(base("graph-no-edge", { model: await withGraph("model-graph-no-edge", { edgeQueryGraph: "optimized" }) }))).rejects.toMatchObject({ code: "invalid_model", message: expect.stringContaining("edgeQueryGraph") });
  });

  it("stores the documents in corpus order, title-only and metadata included", () => {
    expect(ref.docs.map((d) => d.id)).toEqual(["d0", "d1", "long", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11"]);
    expect(ref.docs[3]).toEqual({ id: "d3", title: "only title here", text: "" });
    expect(ref.docs[4].metadata).toEqual({ year: 2020, tags: ["x"] });
  });

  it("writes an id index (manifest 2.1): each document's id finds its ordinal in its bucket", async () => {
    const ids = ref.manifest.docs.ids!;
    expect(ref.manifest.version).toEqual({ major: 2, minor: 1 });
    expect(ids.buckets).toHaveLength(idBucketCount(ref.docs.length));
    const buckets = await Promise.all(ids.buckets.map(async (b) => decodeIdBucket(new Uint8Array(await readFile(path.join(tmp, "ref", b.path))), ref.docs.length)));
    ref.docs.forEach((d, ordinal) => expect(buckets[idBucketOf(d.id, ids.buckets.length)].ordinals.get(d.id)).toBe(ordinal));
    expect(buckets.reduce((n, b) => n + b.ordinals.size, 0)).toBe(ref.docs.length);
  });

  it("splits each doc into overlapping windows, consecutive and pointing at their doc", async () => {
    const tok = createTokenizer(JSON.parse(await readFile(path.join(MODEL, "vocab.json"), "utf8")));
    const expected = ref.docs.flatMap((d, i) => Array(passageCount(tok.encode(passageText(d)).length, 8, 6)).fill(i));
    expect(ref.passages.map((p) => p.doc)).toEqual(expected);
    // "long": title "ab" + 5 x "abc" + "aaa" = 3 + 20 + 4 = 27 tokens -> windows at 0, 6, 12, 18, 24 = 5 passages
    expect(expected.filter((d) => d === 2)).toHaveLength(5);
  });

  it("encodes each passage as the model does (tiny model: sum of token embeddings)", async () => {
    // The tiny model embeds a window as the sum of its tokens' rows; check the int8 vectors against a float encode.
    const { createNodeEncoder } = await import("../../../offline/encoder/node-encoder.ts");
    const tok = createTokenizer(JSON.parse(await readFile(path.join(MODEL, "vocab.json"), "utf8")));
    const enc = await createNodeEncoder({ modelPath: path.join(ROOT, "test/fixtures/tiny-encoder.onnx"), device: "cpu", maxLen: 8 });
    const ids = tok.encode(passageText(ref.docs[2]));
    const want = await enc.encode([ids.slice(12, 20)]);
    await enc.close();
    const p = ref.passages.filter((x) => x.doc === 2)[2];
    for (let i = 0; i < 2; i++) expect(Math.abs(p.vector[i] * p.scale - want[i])).toBeLessThanOrEqual(p.scale / 2 + 1e-6);
  });

  it("--no-split keeps one passage per doc; a BEIR directory reads corpus.jsonl", async () => {
    await buildIndex(base("nosplit", { split: false }));
    const ns = await readBack(path.join(tmp, "nosplit"));
    expect(ns.passages.map((p) => p.doc)).toEqual(ns.docs.map((_, i) => i));
    await buildIndex(base("beir", { corpus: path.join(FIX, "beir") }));
    const b = await readBack(path.join(tmp, "beir"));
    expect(b.docs).toEqual([
      { id: "b0", title: "a", text: "abc abc" },
      { id: "b1", title: "", text: "b b b" },
      { id: "b2", title: "c", text: "cab", metadata: {} },
    ]);
  });

  it("refuses to overwrite <out> without --force", async () => {
    await expect(buildIndex(base("ref"))).rejects.toThrow(/already exists/);
  });

  it("resumes after a crash and ends with the same objects as an uninterrupted build", async () => {
    await expect(buildIndex(base("crash", crashAfter(2)))).rejects.toThrow(/simulated crash/);
    expect(existsSync(path.join(tmp, "crash"))).toBe(false);
    const cp = JSON.parse(await readFile(path.join(tmp, "crash.partial", "checkpoint.json"), "utf8"));
    expect(cp.shards).toHaveLength(2);

    // Other arguments refuse to resume...
    await expect(buildIndex(base("crash", { stride: 5 }))).rejects.toThrow(/other arguments:\n {2}stride: 6 -> 5[\s\S]*--restart/);
    // ...the same ones resume.
    const s = await buildIndex(base("crash"));
    expect(s.resumed).toBe(true);
    const r = await readBack(path.join(tmp, "crash"));
    expect(objectsOf(r.manifest)).toEqual(objectsOf(ref.manifest));
    expect(r.manifest.corpus).toEqual(ref.manifest.corpus);

    // A crash at another point (after 3 shards, inside a doc and a doc block), resumed twice.
    await expect(buildIndex(base("crash2", crashAfter(3)))).rejects.toThrow(/simulated crash/);
    await expect(buildIndex(base("crash2", crashAfter(3)))).rejects.toThrow(/simulated crash/);
    await buildIndex(base("crash2"));
    expect(objectsOf((await readBack(path.join(tmp, "crash2"))).manifest)).toEqual(objectsOf(ref.manifest));
  });

  it("--restart discards the partial build", async () => {
    await expect(buildIndex(base("restart", crashAfter(1)))).rejects.toThrow(/simulated crash/);
    const s = await buildIndex(base("restart", { window: 6, stride: 4, restart: true }));
    expect(s.resumed).toBe(false);
    expect((await readBack(path.join(tmp, "restart"))).manifest.passages.window).toBe(6);
  });

  it("--shard k/n slices merged equal a single build", async () => {
    for (const n of [2, 3]) {
      const dirs: string[] = [];
      for (let k = n; k >= 1; k--) {
        await buildIndex(base(`s${k}of${n}`, { slice: { k, n } }));
        dirs.push(path.join(tmp, `s${k}of${n}`));
      }
      const one = await readBack(dirs.at(-1)!);
      expect(one.docs.length).toBe(Math.floor(12 / n)); // slice 1: docs [0, 12/n)
      await mergeIndexes({ inputs: dirs, out: path.join(tmp, `merged${n}`), stderr: quiet });
      const m = await readBack(path.join(tmp, `merged${n}`));
      const pairs = (r: ReadBack) => r.passages.map((p) => `${r.docs[p.doc].id}:${p.vector}:${p.scale}`);
      expect(pairs(m)).toEqual(pairs(ref));
      expect(m.docs).toEqual(ref.docs);
      expect(objectsOf(m.manifest)).toEqual(objectsOf(ref.manifest));
      expect(m.manifest.corpus).toEqual(ref.manifest.corpus);
    }
  });

  it("merge refuses missing slices and mismatched params", async () => {
    await expect(mergeIndexes({ inputs: [path.join(tmp, "s1of3"), path.join(tmp, "s3of3")], out: path.join(tmp, "m-bad"), stderr: quiet }))
      .rejects.toThrow(/missing slice\(s\) 2\/3/);
    await expect(mergeIndexes({ inputs: [path.join(tmp, "ref"), path.join(tmp, "nosplit")], out: path.join(tmp, "m-bad"), stderr: quiet }))
      .rejects.toThrow(/built differently[\s\S]*split: true -> false/);
    await expect(mergeIndexes({ inputs: [path.join(tmp, "ref"), path.join(tmp, "crash")], out: path.join(tmp, "m-bad"), stderr: quiet }))
      .rejects.toThrow(/document id "d0" is in more than one input/);
    expect(existsSync(path.join(tmp, "m-bad"))).toBe(false);
  });
});

describe("i3 CLI", () => {
  const run = promisify(execFile);
  const i3 = async (...args: string[]) => {
    try {
      const r = await run(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, "offline/cli.ts"), ...args], { cwd: ROOT });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  it("exits 2 on an unknown command or flag, 1 with file:line on a bad corpus, 0 on a build", async () => {
    const [unknown, flag, bad, ok] = await Promise.all([
      i3("frobnicate"),
      i3("build", "--corpus", CORPUS, "--model", MODEL, "--out", path.join(tmp, "cli"), "--bogus"),
      i3("build", "--corpus", path.join(FIX, "bad-duplicate.jsonl"), "--model", MODEL, "--out", path.join(tmp, "cli-bad"), "--device", "cpu"),
      i3("build", "--corpus", CORPUS, "--model", MODEL, "--out", path.join(tmp, "cli-ok"), "--device", "cpu", "--shard-size", "4", "--batch", "3"),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"[\s\S]*usage: i3/);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--bogus[\s\S]*usage: i3 build/);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`bad-duplicate.jsonl:3: duplicate id "x0"`);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/12 documents, 21 passages/);
    const m = (await readBack(path.join(tmp, "cli-ok"))).manifest;
    expect(m.id).toBe("cli-ok");
  }, 60_000);

  it("--fusion-normalization sets the index's normalization; an unknown one exits 2", async () => {
    const [bad, ok] = await Promise.all([
      i3("build", "--corpus", CORPUS, "--model", MODEL, "--out", path.join(tmp, "cli-norm-bad"), "--fusion-normalization", "zscore"),
      i3("build", "--corpus", CORPUS, "--model", MODEL, "--out", path.join(tmp, "cli-norm"), "--device", "cpu", "--fusion-normalization", "tmm", "--fusion-weight", "0.7"),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--fusion-normalization must be tmm or minmax/);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await readBack(path.join(tmp, "cli-norm"))).manifest.lexical!.fusion).toMatchObject({ weight: 0.7, normalization: "tmm" });
  }, 60_000);
});
