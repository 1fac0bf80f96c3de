import { createServer, type Server } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BeirFormatError, beirPaths, docText, readCorpus, readQrels, readQueries } from "../../../offline/eval/beir.ts";
import { parseArgs, UsageError } from "../../../offline/eval/args.ts";
import { formatTable, main, runEval } from "../../../offline/eval/command.ts";
import { encodeAll, exactSearch, PassageStore, resolveModel } from "../../../offline/eval/dense.ts";
import { endpointRun } from "../../../offline/eval/endpoint.ts";
import { readRun } from "../../../offline/eval/trec.ts";
import { toInputs } from "../../../src/text/tensors.ts";
import { createNodeEncoder } from "../../../offline/encoder/node-encoder.ts";

const TINY = "test/fixtures/beir-tiny";
const tmp = mkdtempSync(join(tmpdir(), "i3-eval-test-"));

async function collect<T>(g: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
}
function file(name: string, content: string): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

describe("BEIR reader", () => {
  it("reads the tiny fixture", async () => {
    const docs = await collect(readCorpus(`${TINY}/corpus.jsonl`));
    expect(docs.map((d) => d.id)).toEqual(["d1", "d2", "d3", "d4"]);
    expect(docText(docs[0])).toBe("Apple pie apple apple banana");
    expect(docText(docs[1])).toBe("banana split"); // empty title: no leading space
    const qs = await readQueries(`${TINY}/queries.jsonl`);
    expect(qs.length).toBe(4);
    const qrels = await readQrels(`${TINY}/qrels/test.tsv`);
    expect([...qrels.keys()]).toEqual(["q1", "q2", "q3"]);
    expect(qrels.get("q1")!.get("d1")).toBe(2);
    expect(qrels.get("q3")!.get("d1")).toBe(0);
  });
  it("names the file and line of a malformed line", async () => {
    const bad = file("bad.jsonl", '{"_id": "a", "text": "x"}\n\n{"_id": "b", "text": \n');
    await expect(collect(readCorpus(bad))).rejects.toThrow(new RegExp(`${bad}:3: invalid JSON`));
    const noId = file("noid.jsonl", '{"text": "x"}\n');
    await expect(collect(readCorpus(noId))).rejects.toThrow(/noid.jsonl:1: missing or invalid "_id"/);
    const dup = file("dup.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n');
    await expect(readQueries(dup)).rejects.toThrow(/dup.jsonl:2: duplicate _id "a"/);
    const noText = file("notext.jsonl", '{"_id": "a", "title": "t"}\n');
    await expect(collect(readCorpus(noText))).rejects.toBeInstanceOf(BeirFormatError);
    const q = file("bad.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\n");
    await expect(readQrels(q)).rejects.toThrow(/bad.tsv:3: expected 3 tab-separated fields/);
    const q2 = file("bad2.tsv", "query-id\tcorpus-id\tscore\nq1\td1\thigh\n");
    await expect(readQrels(q2)).rejects.toThrow(/bad2.tsv:2: score must be an integer/);
  });
  it("names missing files and the split", () => {
    expect(() => beirPaths(join(tmp, "nope"))).toThrow(/BEIR directory not found/);
    expect(() => beirPaths(TINY, "dev")).toThrow(/qrels file not found: .*dev.tsv \(split "dev"\)/);
  });
});

describe("CLI arguments", () => {
  it("parses and validates", () => {
    const a = parseArgs(["--data", "d", "--model=bm25", "--k", "10", "--json", "--queries-limit", "5"]);
    expect(a).toMatchObject({ data: "d", model: "bm25", k: 10, json: true, queriesLimit: 5, split: "test" });
    expect(() => parseArgs(["--model", "bm25"])).toThrow(UsageError);
    expect(() => parseArgs(["--data", "d"])).toThrow(/one of --model, --endpoint or --from-run/);
    expect(() => parseArgs(["--data", "d", "--model", "bm25", "--k", "0"])).toThrow(/--k must be a positive integer/);
    expect(() => parseArgs(["--data", "d", "--model", "bm25", "--frobnicate"])).toThrow(/unknown option --frobnicate/);
    expect(() => parseArgs(["--data", "--model", "bm25"])).toThrow(/--data needs a value/);
    expect(() => parseArgs(["--data", "d", "--endpoint", "localhost:8787"])).toThrow(/http/);
    expect(parseArgs(["--data", "d", "--endpoint", "http://x:1/"]).endpoint).toBe("http://x:1");
  });
});

describe("eval command on beir-tiny", () => {
  it("bm25: evaluates queries with qrels, skips the rest, writes a TREC run", async () => {
    const runPath = join(tmp, "tiny-bm25.trec");
    const r = await runEval(parseArgs(["--data", TINY, "--model", "bm25", "--run", runPath]));
    expect(r.queries).toBe(3);
    expect(r.skippedNoQrels).toBe(1);
    expect(r.docs).toBe(4);
    // q1: d1 (2), d3 (1) -> perfect; q2 "banana cherry": d3, d2, d1 -> both relevant in top 2; q3 "cafe": d4
    expect(r.metrics["nDCG@10"]).toBeCloseTo(1, 12);
    expect(r.metrics["MRR@10"]).toBe(1);
    expect(r.metrics["R@1000"]).toBe(1);
    const lines = readFileSync(runPath, "utf8").trim().split("\n");
    expect(lines[0]).toMatch(/^q1 Q0 d1 1 [0-9.]+ bm25$/);
    expect(lines.length).toBe(2 + 3 + 1);
    const back = await readRun(runPath);
    expect(back.get("q2")!.map((h) => h.id)).toEqual(["d3", "d2", "d1"]);
    const table = formatTable(r);
    expect(table).toMatch(/nDCG@10\s+MRR@10\s+R@100\s+R@1000/);
    expect(table).toMatch(/1 queries without qrels in split "test" skipped/);
    expect(table).toMatch(/1 evaluated queries have no relevant doc|^/); // q3 has one relevant: none here
  });
  it("hybrid: one corpus pass, BM25 + dense fused by RRF (or weighted)", async () => {
    const log = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const r = await runEval(parseArgs(["--data", TINY, "--model", `hybrid:${TINY}/model`, "--device", "cpu", "--run", join(tmp, "h.trec")]));
      expect(r.tag).toBe("hybrid-tiny-bm25-rrf60");
      expect(r.encoding?.passages).toBe(4);
      const run = await readRun(join(tmp, "h.trec"));
      // the dense side ranks every passage, so the fused run has all 4 docs per query
      expect(run.get("q1")!.length).toBe(4);
      expect(run.get("q1")!.every((h) => h.score > 0 && h.score <= 2 / 61)).toBe(true);
      await runEval(parseArgs(["--data", TINY, "--model", `hybrid:${TINY}/model`, "--device", "cpu", "--fusion", "weighted:0", "--run", join(tmp, "w.trec")]));
      // dense weight 0: BM25's best doc stays on top with score 1 (min-max puts BM25's last match at 0, tied
      // with docs only the dense side found: a known property of min-max fusion)
      const wq1 = (await readRun(join(tmp, "w.trec"))).get("q1")!;
      expect(wq1[0]).toEqual({ id: "d1", score: 1 });
    } finally {
      log.mockRestore();
    }
    expect(() => parseArgs(["--data", "d", "--model", "bm25", "--fusion", "rrf"])).toThrow(/--fusion needs --model hybrid/);
    expect(() => parseArgs(["--data", "d", "--model", "hybrid:m", "--fusion", "weighted:2"])).toThrow(/0 <= w <= 1/);
    expect(parseArgs(["--data", "d", "--model", "hybrid:m", "--fusion", "rrf:10"]).fusion).toEqual({ kind: "rrf", k: 10 });
    expect(parseArgs(["--data", "d", "--index", "i", "--fusion", "weighted:0.6:tmm"]).fusion).toEqual({ kind: "weighted", dense: 0.6, normalization: "tmm" });
    expect(parseArgs(["--data", "d", "--endpoint", "http://x", "--fusion", "weighted:0.2"]).fusion).toEqual({ kind: "weighted", dense: 0.2 });
    expect(() => parseArgs(["--data", "d", "--model", "hybrid:m", "--fusion", "weighted:0.6:tmm"])).toThrow(/needs --index or --endpoint/);
    expect(() => parseArgs(["--data", "d", "--index", "i", "--fusion", "weighted:0.6:zscore"])).toThrow(/--fusion must be/);
    expect(() => parseArgs(["--data", "d", "--index", "i", "--fusion", "rrf:60:tmm"])).toThrow(/--fusion must be/);
  });
  it("--from-run: evaluates a TREC file as is (same numbers), fuses several", async () => {
    const runPath = join(tmp, "tiny-bm25.trec");
    const direct = await runEval(parseArgs(["--data", TINY, "--model", "bm25", "--run", runPath]));
    const again = await runEval(parseArgs(["--data", TINY, "--from-run", runPath, "--run", join(tmp, "again.trec")]));
    expect(again.metrics).toEqual(direct.metrics);
    expect(again.tag).toBe("tiny-bm25");
    const fused = await runEval(parseArgs(["--data", TINY, "--from-run", `${runPath},${runPath}`, "--fusion", "rrf", "--run", join(tmp, "ff.trec")]));
    expect(fused.tag).toBe("fused-rrf60");
    expect(fused.metrics).toEqual(direct.metrics); // a run fused with itself keeps its order
    expect(() => parseArgs(["--data", "d", "--from-run", "a", "--model", "bm25"])).toThrow(/exclusive/);
    expect(() => parseArgs(["--data", "d", "--from-run", "a", "--fusion", "rrf"])).toThrow(/--fusion needs/);
  });
  it("--queries-limit and --compare-run", async () => {
    const runPath = join(tmp, "tiny-bm25.trec");
    const r = await runEval(parseArgs(["--data", TINY, "--model", "bm25", "--run", join(tmp, "lim.trec"), "--queries-limit", "1", "--compare-run", runPath]));
    expect(r.queries).toBe(1);
    expect(r.compare).toMatchObject({ recallAt10: 1, queries: 1 });
  });
  it("exit codes: 2 for bad arguments, 1 for missing files, 0 for --help", async () => {
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      expect(await main(["--data", TINY])).toBe(2);
      expect(await main(["--data", join(tmp, "missing"), "--model", "bm25"])).toBe(1);
      expect(String(err.mock.calls.at(-1)![0])).toMatch(/BEIR directory not found/);
      expect(await main(["--data", TINY, "--model", join(tmp, "nomodel")])).toBe(1);
      expect(String(err.mock.calls.at(-1)![0])).toMatch(/model not found/);
      expect(await main(["--help"])).toBe(0);
    } finally {
      err.mockRestore();
      out.mockRestore();
    }
  });
});

describe("tensors", () => {
  it("toInputs right-pads with 0, truncates to maxLen, int64", () => {
    const t = toInputs([[5, 6, 7, 8], [9], []], 3);
    expect(t.dims).toEqual([3, 3]);
    expect([...t.inputIds]).toEqual([5n, 6n, 7n, 9n, 0n, 0n, 0n, 0n, 0n]);
    expect([...t.attentionMask]).toEqual([1n, 1n, 1n, 1n, 0n, 0n, 0n, 0n, 0n]);
    expect(toInputs([[1, 2]], 128).dims).toEqual([1, 2]);
    expect(() => toInputs([[1]], 0)).toThrow(/maxLen/);
  });
});

describe("onnxruntime-node encoder and dense search (toy model)", () => {
  const onnx = `${TINY}/model/tiny.onnx`;
  it("encodes on CPU: masked sum of table rows", async () => {
    const enc = await createNodeEncoder({ modelPath: onnx, device: "cpu", intraOpThreads: 1 });
    expect(enc.provider).toBe("cpu");
    expect(enc.dim).toBe(3);
    const e = await enc.encode([[1, 2, 2], [4], [3, 5]]);
    expect([...e]).toEqual([1, 2, 0, 1, 1, 0, 0.5, 0.5, 1.5]);
    await enc.close();
  });
  it("auto falls back to CPU with a note when CUDA is unavailable; cuda then errors", async () => {
    const notes: string[] = [];
    const enc = await createNodeEncoder({ modelPath: onnx, device: "auto", intraOpThreads: 1, log: (m) => notes.push(m) });
    if (enc.provider === "cpu") {
      expect(notes.join("\n")).toMatch(/CUDA execution provider unavailable.*using CPU/);
      await expect(createNodeEncoder({ modelPath: onnx, device: "cuda" })).rejects.toThrow(/CUDA execution provider unavailable/);
    }
    await enc.close();
  });
  it("model resolution: directory with model.json, bare .onnx with vocab beside it", () => {
    const m = resolveModel(`${TINY}/model`);
    expect(m).toMatchObject({ name: "tiny", maxPassageTokens: 4, maxQueryTokens: 4 });
    expect(m.queryOnnx).toBe(m.passageOnnx);
    expect(resolveModel(onnx).name).toBe("tiny");
    expect(() => resolveModel(TINY)).toThrow(/model.json not found/);
  });
  it("length-sorted batches come back in corpus order; exact inner-product top k", async () => {
    const enc = await createNodeEncoder({ modelPath: onnx, device: "cpu", intraOpThreads: 1 });
    const vocab: Record<string, number> = { apple: 1, banana: 2, cherry: 3, pie: 4, cafe: 5 };
    const store = new PassageStore((t) => t.toLowerCase().split(/\s+/).map((w) => vocab[w] ?? 0), 4);
    store.add("p1", "apple apple apple apple apple"); // truncated to 4 -> [4,0,0]
    store.add("p2", "banana");
    store.add("p3", "cherry cherry pie");
    const P = await encodeAll(enc, store.tokens, 2);
    expect([...P]).toEqual([4, 0, 0, 0, 1, 0, 1, 1, 2]);
    const Q = await enc.encode([[1], [3]]);
    const res = exactSearch(P, 3, Q, 2, 3, 2);
    expect([...res[0].idx]).toEqual([0, 2]);
    expect([...res[0].scores]).toEqual([4, 1]);
    expect([...res[1].idx]).toEqual([2, 0]);
    await enc.close();
  });
});

describe("endpoint mode", () => {
  let server: Server;
  let url = "";
  let calls = 0;
  let fails = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        calls++;
        const { query, k } = JSON.parse(body);
        if (query === "flaky" && fails++ < 2) {
          res.writeHead(503).end("busy");
          return;
        }
        if (query === "bad") {
          res.writeHead(400, { "content-type": "application/json" }).end('{"error":"bad query"}');
          return;
        }
        const results = [{ id: "d1", score: 0.5 }, { id: "d2", score: 0.9, title: "t" }].slice(0, k);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ results, took: 1 }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("posts {query, k}, retries 5xx, keeps query order", async () => {
    const qs = Array.from({ length: 9 }, (_, i) => ({ id: `q${i}`, text: i === 4 ? "flaky" : `text ${i}` }));
    const run = await endpointRun(qs, { url, k: 2, concurrency: 3, backoffMs: 1, log: () => {} });
    expect([...run.keys()]).toEqual(qs.map((q) => q.id));
    expect(run.get("q4")).toEqual([{ id: "d1", score: 0.5 }, { id: "d2", score: 0.9 }]);
    expect(calls).toBe(9 + 2);
  });
  it("4xx fails at once with the body; a down endpoint gives one clear error", async () => {
    await expect(endpointRun([{ id: "q", text: "bad" }], { url, k: 5, concurrency: 1, log: () => {} })).rejects.toThrow(/HTTP 400 .*bad query/);
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, "127.0.0.1", r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    await expect(
      endpointRun([{ id: "q", text: "x" }], { url: `http://127.0.0.1:${deadPort}`, k: 5, concurrency: 1, retries: 1, backoffMs: 1, log: () => {} }),
    ).rejects.toThrow(/failed for query q after 2 attempts \(is the endpoint up\?\): .*ECONNREFUSED/);
  });
  it("the eval command in endpoint mode needs no corpus", async () => {
    const dir = join(tmp, "nocorpus");
    mkdirSync(join(dir, "qrels"), { recursive: true });
    writeFileSync(join(dir, "queries.jsonl"), readFileSync(`${TINY}/queries.jsonl`));
    writeFileSync(join(dir, "qrels", "test.tsv"), readFileSync(`${TINY}/qrels/test.tsv`));
    const r = await runEval(parseArgs(["--data", dir, "--endpoint", url, "--run", join(tmp, "ep.trec")]));
    expect(r.k).toBe(100);
    expect(r.queries).toBe(3);
    // every query gets d2 (0.9) then d1 (0.5): q1 has d1 (grade 2) at rank 2
    expect(r.metrics["MRR@10"]).toBeCloseTo((0.5 + 1 + 0) / 3, 12);
  });
});
