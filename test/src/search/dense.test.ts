import { describe, expect, it } from "vitest";
import { quantizeInt8, signCodes } from "../../../src/format";
import { createTopK } from "../../../src/search/topk";
import { binaryScore, binaryTables } from "../../../src/search/score";
import { int8Score, quantizeQuery } from "../../../src/search/kernels/quantize-query";
import { scoreDocuments, searchShards, type ShardVectors } from "../../../src/search/dense";
import { rng } from "../../../src/random.ts";


/** Clustered unit vectors, so neighbours are meaningful (like real embeddings, unlike iid noise). */
function corpus(n: number, dims: number, seed: number): Float32Array {
  const r = rng(seed);
  const centers = Array.from({ length: 20 }, () => Float32Array.from({ length: dims }, () => r() - 0.5));
  const out = new Float32Array(n * dims);
  for (let i = 0; i < n; i++) {
    const c = centers[Math.floor(r() * centers.length)];
    let norm = 0;
    for (let d = 0; d < dims; d++) {
      const v = c[d] + 0.6 * (r() - 0.5);
      out[i * dims + d] = v;
      norm += v * v;
    }
    for (let d = 0; d < dims; d++) out[i * dims + d] /= Math.sqrt(norm);
  }
  return out;
}

function shardOf(vectors: Float32Array, dims: number, ordinals: Uint32Array): ShardVectors {
  const q = quantizeInt8(vectors, dims);
  return { count: ordinals.length, dims, vectors: q.vectors, scales: q.scales, codes: signCodes(vectors, dims), ordinals };
}

function exactTop(query: Float32Array, vectors: Float32Array, dims: number, ordinals: Uint32Array, k: number) {
  const best = new Map<number, number>();
  for (let i = 0; i < ordinals.length; i++) {
    let s = 0;
    for (let d = 0; d < dims; d++) s += query[d] * vectors[i * dims + d];
    best.set(ordinals[i], Math.max(best.get(ordinals[i]) ?? -Infinity, s));
  }
  return [...best].sort((a, b) => b[1] - a[1]).slice(0, k).map(([o]) => o);
}

describe("topk", () => {
  it("keeps the k best, highest first", () => {
    const t = createTopK(3);
    [5, 1, 9, 3, 7, 9.5].forEach((s, i) => t.push(i, s));
    expect(t.sorted()).toEqual([{ id: 5, score: 9.5 }, { id: 2, score: 9 }, { id: 4, score: 7 }]);
    expect(t.threshold()).toBe(7);
  });
  it("handles k larger than the input and k = 0", () => {
    const t = createTopK(10);
    t.push(1, 2);
    expect(t.sorted()).toEqual([{ id: 1, score: 2 }]);
    const z = createTopK(0);
    z.push(1, 1);
    expect(z.sorted()).toEqual([]);
  });
});

describe("binary pass", () => {
  it("equals q · sign(x)", () => {
    const dims = 20; // not a multiple of 8
    const r = rng(3);
    const q = Float32Array.from({ length: dims }, () => r() - 0.5);
    const x = Float32Array.from({ length: dims }, () => r() - 0.5);
    const codes = signCodes(x, dims);
    const want = q.reduce((s, v, d) => s + v * (x[d] > 0 ? 1 : -1), 0);
    expect(binaryScore(binaryTables(q), codes, Math.ceil(dims / 8), 0)).toBeCloseTo(want, 5);
  });
});

describe("searchShards", () => {
  const dims = 256, n = 3000;
  const vectors = corpus(n, dims, 1);
  // Two passages per document for the first 1000 docs, one after: a doc scores as its best passage.
  const ordinals = Uint32Array.from({ length: n }, (_, i) => (i < 2000 ? i >> 1 : i - 1000));
  const half = 1500;
  const shards = [
    shardOf(vectors.subarray(0, half * dims), dims, ordinals.subarray(0, half)),
    shardOf(vectors.subarray(half * dims), dims, ordinals.subarray(half)),
  ];
  const queries = Array.from({ length: 50 }, (_, i) => corpus(1, dims, 100 + i));

  const recallAt10 = (rescore: number) => {
    let hit = 0;
    for (const q of queries) {
      const want = new Set(exactTop(q, vectors, dims, ordinals, 10));
      const got = searchShards(q, shards, { k: 10, rescore });
      expect(new Set(got.map((h) => h.ordinal)).size).toBe(got.length); // documents, not passages
      hit += got.filter((h) => want.has(h.ordinal)).length;
    }
    return hit / (10 * queries.length);
  };

  it("exact int8 scoring matches exact float32 top 10 (recall >= 0.98)", () => {
    expect(recallAt10(0)).toBeGreaterThanOrEqual(0.98);
  });
  it("binary first pass + int8 rescoring of 1000 candidates (the manifest default) keeps recall >= 0.98", () => {
    expect(recallAt10(1000)).toBeGreaterThanOrEqual(0.98);
  });
  it("handles many shards in the binary pass (ids packing shard and row)", () => {
    const third = n / 3;
    const many = [0, 1, 2].map((j) =>
      shardOf(vectors.subarray(j * third * dims, (j + 1) * third * dims), dims, ordinals.subarray(j * third, (j + 1) * third)),
    );
    for (const q of queries.slice(0, 5)) {
      const want = searchShards(q, shards, { k: 10, rescore: 0 }).map((h) => h.ordinal);
      const got = searchShards(q, many, { k: 10, rescore: n - 1 }).map((h) => h.ordinal);
      expect(got).toEqual(want);
    }
  });

  it("scores are sorted and close to the float32 inner product", () => {
    const q = queries[0];
    const got = searchShards(q, shards, { k: 5, rescore: 0 });
    for (let i = 1; i < got.length; i++) expect(got[i - 1].score).toBeGreaterThanOrEqual(got[i].score);
    const want = exactTop(q, vectors, dims, ordinals, 1)[0];
    expect(got[0].ordinal).toBe(want);
  });
});

describe("scoreDocuments", () => {
  const dims = 32;
  const n = 300;
  const vectors = corpus(n, dims, 11);
  const query = corpus(1, dims, 12);
  // Passages of 100 docs, 1-5 passages each, in corpus order (ascending ordinals), split over 3 shards.
  const r = rng(13);
  const docOf: number[] = [];
  for (let d = 0; docOf.length < n; d++) for (let p = 1 + Math.floor(r() * 5); p > 0 && docOf.length < n; p--) docOf.push(d);
  const cuts = [0, 97, 211, n];
  const sorted = cuts.slice(1).map((end, j) => shardOf(vectors.slice(cuts[j] * dims, end * dims), dims, Uint32Array.from(docOf.slice(cuts[j], end))));
  const brute = (shards: ShardVectors[], wanted: number[]) => {
    const out = new Map<number, number>();
    for (const s of shards) for (let i = 0; i < s.count; i++) {
      if (!wanted.includes(s.ordinals[i])) continue;
      const v = int8Score(quantizeQuery(query), s.vectors, s.scales, i); // the kernels' int8 score, as every scan
      if (!out.has(s.ordinals[i]) || v > out.get(s.ordinals[i])!) out.set(s.ordinals[i], v);
    }
    return out;
  };
  const wanted = [0, 5, docOf[96], docOf[97], docOf[n - 1], 7, 5, 100_000];

  it("gives each document its best passage's int8 score (passages spanning shards included), nothing for unknown docs", () => {
    const got = scoreDocuments(query, sorted, wanted);
    expect(got).toEqual(brute(sorted, wanted));
    expect(got.has(100_000)).toBe(false);
    expect(scoreDocuments(query, sorted, [])).toEqual(new Map());
  });

  it("gives the same scores for a shard whose ordinals are not ascending (scanned)", () => {
    const perm = Array.from({ length: n }, (_, i) => i).sort(() => r() - 0.5);
    const shuffledVectors = new Float32Array(n * dims);
    perm.forEach((src, dst) => shuffledVectors.set(vectors.subarray(src * dims, (src + 1) * dims), dst * dims));
    const shuffled = [shardOf(shuffledVectors, dims, Uint32Array.from(perm.map((p) => docOf[p])))];
    const got = scoreDocuments(query, shuffled, wanted);
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([...brute(sorted, wanted).keys()].sort((a, b) => a - b));
    for (const [o, v] of got) expect(v).toBeCloseTo(brute(shuffled, wanted).get(o)!, 12);
  });
});
