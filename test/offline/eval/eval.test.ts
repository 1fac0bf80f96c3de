import { createServer, type Server } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex } from "../../../offline/build/build.ts";
import { loadModel } from "../../../offline/build/model.ts";
import { UsageError } from "../../../offline/command.ts";
import { BeirFormatError, beirPaths, readQrels, readQueries } from "../../../offline/eval/beir.ts";
import { parseEvalArgs, type EvalArgs } from "../../../offline/eval/args.ts";
import { runEvalCommand } from "../../../offline/eval/command.ts";
import { formatTable, runEval } from "../../../offline/eval/eval.ts";
import { encodeAll, exactSearch, PassageStore } from "../../../offline/eval/dense.ts";
import { endpointRun } from "../../../offline/eval/endpoint.ts";
import { readRun } from "../../../offline/eval/trec.ts";
import { toInputs } from "../../../src/text/tensors.ts";
import { createNodeEncoder } from "../../../offline/encoder/node-encoder.ts";

const TINY = "test/fixtures/beir-tiny";
const tmp = mkdtempSync(join(tmpdir(), "i3-eval-test-"));

const quiet = () => {};

/** parseEvalArgs for an evaluation (not a regression run). */
function evalArgs(argv: string[]): EvalArgs {
  const a = parseEvalArgs(argv);
  if ("regression" in a) throw new Error("not an evaluation");
  return a;
}

/** A BEIR directory around `corpus` with the tiny fixture's queries and qrels. */
function beir(corpus: string): string {
  const dir = join(tmp, `beir-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(dir, "qrels"), { recursive: true });
  writeFileSync(join(dir, "corpus.jsonl"), readFileSync(corpus));
  writeFileSync(join(dir, "queries.jsonl"), readFileSync(`${TINY}/queries.jsonl`));
  writeFileSync(join(dir, "qrels", "test.tsv"), readFileSync(`${TINY}/qrels/test.tsv`));
  return dir;
}

let tinyIndexDir: Promise<string> | undefined;
/** The tiny fixture built once with the real `i3 build` (its default search: hybrid). */
function tinyIndex(): Promise<string> {
  const out = join(tmp, "tiny-index");
  return (tinyIndexDir ??= buildIndex({ corpus: TINY, model: `${TINY}/model`, out, device: "cpu", stderr: { write: () => true } }).then(() => out));
}
function file(name: string, content: string): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

describe("BEIR reader", () => {
  it("reads the queries and graded qrels of the tiny fixture", async () => {
    const qs = await readQueries(`${TINY}/queries.jsonl`);
    expect(qs.map((q) => q.id)).toEqual(["q1", "q2", "q3", "q4"]);
    const qrels = await readQrels(`${TINY}/qrels/test.tsv`);
    expect([...qrels.keys()]).toEqual(["q1", "q2", "q3"]);
    expect(qrels.get("q1")!.get("d1")).toBe(2);
    expect(qrels.get("q3")!.get("d1")).toBe(0);
  });
  it("names the file and line of a malformed line", async () => {
    const bad = file("bad.jsonl", '{"_id": "a", "text": "x"}\n\n{"_id": "b", "text": \n');
    await expect(readQueries(bad)).rejects.toThrow(new RegExp(`${bad}:3: invalid JSON`));
    const noId = file("noid.jsonl", '{"text": "x"}\n');
    await expect(readQueries(noId)).rejects.toThrow(/noid.jsonl:1: missing or invalid "_id"/);
    const dup = file("dup.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n');
    await expect(readQueries(dup)).rejects.toThrow(/dup.jsonl:2: duplicate _id "a"/);
    const noText = file("notext.jsonl", '{"_id": "a", "title": "t"}\n');
    await expect(readQueries(noText)).rejects.toBeInstanceOf(BeirFormatError);
    const q = file("bad.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\n");
    await expect(readQrels(q)).rejects.toThrow(/bad.tsv:3: expected 3 tab-separated fields/);
    const q2 = file("bad2.tsv", "query-id\tcorpus-id\tscore\nq1\td1\thigh\n");
    await expect(readQrels(q2)).rejects.toThrow(/bad2.tsv:2: score must be an integer/);
  });
  it("names missing files and the split", () => {
    expect(() => beirPaths(join(tmp, "nope"))).toThrow(/BEIR directory not found/);
    expect(() => beirPaths(TINY, "dev")).toThrow(/qrels file not found: .*dev.tsv \(split "dev"\)/);
  });
  it("the corpus goes through the build's reader: file and line of a bad document, unique ids", async () => {
    const bad = file("corpus-bad.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n');
    await expect(runEval(evalArgs(["--data", beir(bad), "--model", "bm25"]), quiet)).rejects.toThrow(/corpus.jsonl:2: duplicate id "a"/);
  });
});

describe("CLI arguments", () => {
  it("parses each source with its options", () => {
    expect(evalArgs(["--data", "d", "--model=bm25", "--k", "10", "--json", "--queries-limit", "5"])).toMatchObject({
      data: "d", source: { kind: "bm25", k1: 0.9, b: 0.4 }, k: 10, json: true, queriesLimit: 5, split: "test",
    });
    expect(evalArgs(["--data", "d", "--model", "models/x", "--device", "cpu"]).source).toEqual({ kind: "dense", model: "models/x", device: "cpu", batchSize: 64 });
    expect(evalArgs(["--data", "d", "--index", "i", "--mode", "lexical", "--depth", "50"]).source).toEqual({ kind: "index", dir: "i", mode: "lexical", depth: 50, fusion: undefined });
    expect(evalArgs(["--data", "d", "--endpoint", "http://x:1/"]).source).toMatchObject({ kind: "endpoint", url: "http://x:1", concurrency: 4 });
    expect(evalArgs(["--data", "d", "--from-run", "r.trec"]).source).toEqual({ kind: "run", file: "r.trec" });
    expect(evalArgs(["--data", "d", "--index", "i", "--encoder", "static", "--static-model", "s.i3sq"]).source).toMatchObject({ kind: "index", encoder: "static", staticModel: "s.i3sq" });
    expect(evalArgs(["--data", "d", "--endpoint", "http://x", "--encoder", "model"]).source).toMatchObject({ kind: "endpoint", encoder: "model" });
  });
  it("parses --fusion", () => {
    expect(evalArgs(["--data", "d", "--index", "i", "--fusion", "rrf"]).source).toMatchObject({ fusion: { mode: "rrf" } });
    expect(evalArgs(["--data", "d", "--index", "i", "--fusion", "rrf:10"]).source).toMatchObject({ fusion: { mode: "rrf", k: 10 } });
    expect(evalArgs(["--data", "d", "--index", "i", "--fusion", "weighted:0.6:tmm"]).source).toMatchObject({ fusion: { mode: "weighted", weight: 0.6, normalization: "tmm" } });
    expect(evalArgs(["--data", "d", "--endpoint", "http://x", "--fusion", "weighted:0.2"]).source).toMatchObject({ fusion: { mode: "weighted", weight: 0.2 } });
  });
  it("rejects bad usage with a UsageError", () => {
    const bad: Array<[string[], RegExp]> = [
      [["--model", "bm25"], /--data <BEIR dir> is required/],
      [["--data", "d"], /one of --index, --model, --endpoint or --from-run/],
      [["--data", "d", "--model", "bm25", "--k", "0"], /--k must be an integer >= 1/],
      [["--data", "d", "--model", "bm25", "--frobnicate"], /frobnicate/],
      [["--data", "--model", "bm25"], /--data/],
      [["--data", "d", "--endpoint", "localhost:8787"], /http/],
      [["--data", "d", "--from-run", "a", "--model", "bm25"], /exclusive/],
      [["--data", "d", "--model", "bm25", "--fusion", "rrf"], /--fusion does not apply/],
      [["--data", "d", "--from-run", "a", "--mode", "dense"], /--mode does not apply/],
      [["--data", "d", "--endpoint", "http://x", "--depth", "5"], /--depth does not apply/],
      [["--data", "d", "--index", "i", "--bm25-k1", "1.2"], /--bm25-k1 does not apply/],
      [["--data", "d", "--index", "i", "--fusion", "weighted:2"], /<= 1/],
      [["--data", "d", "--index", "i", "--fusion", "weighted"], /--fusion must be/],
      [["--data", "d", "--index", "i", "--fusion", "weighted:0.6:zscore"], /--fusion must be/],
      [["--data", "d", "--index", "i", "--fusion", "rrf:60:tmm"], /--fusion must be/],
      [["--data", "d", "--endpoint", "http://x", "--fusion", "rrf:30"], /rrf:<k> needs --index/],
      [["--data", "d", "--index", "i", "--mode", "sparse"], /--mode must be one of dense, lexical, hybrid/],
      [["--data", "d", "--index", "i", "--encoder", "bigram"], /--encoder must be one of model, static/],
      [["--data", "d", "--index", "i", "--static-model", "s.i3sq"], /--static-model needs --encoder static/],
      [["--data", "d", "--model", "bm25", "--encoder", "static"], /--encoder does not apply/],
      [["--data", "d", "--model", "m", "--device", "tpu"], /--device must be one of/],
      [["--data", "d", "--model", "bm25", "--build"], /--build needs --regression/],
      [["--regression", "r.json", "--data", "d"], /--data does not apply/],
      [["--data", "d", "--model", "bm25", "extra"], /unexpected argument "extra"/],
    ];
    for (const [argv, re] of bad) {
      expect(() => parseEvalArgs(argv), argv.join(" ")).toThrow(UsageError);
      expect(() => parseEvalArgs(argv), argv.join(" ")).toThrow(re);
    }
  });
  it("parses a regression run", () => {
    expect(parseEvalArgs(["--regression", "a.json", "--regression", "dir", "--data-root", "/d", "--build"])).toEqual({
      regression: ["a.json", "dir"], dataRoot: "/d", buildRoot: "build", build: true,
    });
  });
});

describe("eval command on beir-tiny", () => {
  it("--model bm25: the product's BM25, queries with qrels only, a TREC run", async () => {
    const runPath = join(tmp, "tiny-bm25.trec");
    const r = await runEval(evalArgs(["--data", TINY, "--model", "bm25", "--run", runPath]), quiet);
    expect(r.queries).toBe(3);
    expect(r.skippedNoQrels).toBe(1);
    expect(r.docs).toBe(4);
    // q1 "apple": d1 (2), d3 (1), perfect; q2 "banana cherry": d3, d2, d1, both relevant in the top 2; q3 "cafe": the
    // analyzer does not fold "café" to "cafe", so no document matches and q3 scores 0 (BM25 has no dense fallback).
    expect(r.metrics["nDCG@10"]).toBeCloseTo(2 / 3, 12);
    expect(r.metrics["MRR@10"]).toBeCloseTo(2 / 3, 12);
    expect(r.missingFromRun).toBe(1);
    const lines = readFileSync(runPath, "utf8").trim().split("\n");
    expect(lines[0]).toMatch(/^q1 Q0 d1 1 [0-9.]+ bm25$/);
    expect(lines.length).toBe(2 + 3);
    const back = await readRun(runPath);
    expect(back.get("q2")!.map((h) => h.id)).toEqual(["d3", "d2", "d1"]);
    const table = formatTable(r);
    expect(table).toMatch(/nDCG@10\s+MRR@10\s+R@100\s+R@1000/);
    expect(table).toMatch(/1 queries without qrels in split "test" skipped/);
    expect(table).toMatch(/1 evaluated queries got no results/);
  });
  it("--model bm25 ranks as the index's lexical mode does (same writer, same reader)", async () => {
    const index = await tinyIndex();
    const bm25 = await runEval(evalArgs(["--data", TINY, "--model", "bm25", "--k", "10", "--run", join(tmp, "b.trec")]), quiet);
    const lexical = await runEval(evalArgs(["--data", TINY, "--index", index, "--mode", "lexical", "--k", "10", "--run", join(tmp, "l.trec")]), quiet);
    const b = await readRun(join(tmp, "b.trec"));
    const l = await readRun(join(tmp, "l.trec"));
    for (const q of ["q1", "q2"]) expect(l.get(q)).toEqual(b.get(q));
    // q3 matches no term: the index answers it with its dense fallback, --model bm25 with nothing
    expect(b.get("q3")).toBeUndefined();
    expect(l.get("q3")!.length).toBeGreaterThan(0);
    expect(lexical.metrics["nDCG@10"]).toBeGreaterThanOrEqual(bm25.metrics["nDCG@10"]);
  });
  it("--index: each mode through the worker's code; --fusion names the fusion", async () => {
    const index = await tinyIndex();
    const logs: string[] = [];
    const h = await runEval(evalArgs(["--data", TINY, "--index", index, "--mode", "hybrid", "--run", join(tmp, "h.trec")]), (m) => logs.push(m));
    expect(h.k).toBe(100);
    expect(h.tag).toBe("index-tiny-index-hybrid");
    expect(logs.join("\n")).toMatch(/answered in mode: \{"hybrid":3\}/);
    const rrf = await runEval(evalArgs(["--data", TINY, "--index", index, "--mode", "hybrid", "--fusion", "rrf:10", "--run", join(tmp, "r.trec")]), quiet);
    expect(rrf.tag).toBe("index-tiny-index-hybrid-rrf10");
    // RRF(10) over two lists: every fused score is at most 2 / 11
    const run = await readRun(join(tmp, "r.trec"));
    expect([...run.values()].flat().every((x) => x.score > 0 && x.score <= 2 / 11 + 1e-12)).toBe(true);
  });
  it("--model <dir>: exact float32 search with the model directory's own files", async () => {
    const r = await runEval(evalArgs(["--data", TINY, "--model", `${TINY}/model`, "--device", "cpu", "--run", join(tmp, "d.trec")]), quiet);
    expect(r.tag).toBe("tiny");
    expect(r.encoding?.passages).toBe(4);
    expect(r.docs).toBe(4);
    // the dense side ranks every passage
    expect((await readRun(join(tmp, "d.trec"))).get("q1")!.length).toBe(4);
  });
  it("--from-run: evaluates a TREC file as is (same numbers)", async () => {
    const runPath = join(tmp, "tiny-bm25.trec");
    const direct = await runEval(evalArgs(["--data", TINY, "--model", "bm25", "--run", runPath]), quiet);
    const again = await runEval(evalArgs(["--data", TINY, "--from-run", runPath, "--run", join(tmp, "again.trec")]), quiet);
    expect(again.metrics).toEqual(direct.metrics);
    expect(again.tag).toBe("tiny-bm25");
  });
  it("--queries-limit, --compare-run and --ignore-identical-ids", async () => {
    const runPath = join(tmp, "tiny-bm25.trec");
    const r = await runEval(evalArgs(["--data", TINY, "--model", "bm25", "--run", join(tmp, "lim.trec"), "--queries-limit", "1", "--compare-run", runPath]), quiet);
    expect(r.queries).toBe(1);
    expect(r.compare).toMatchObject({ recallAt10: 1, queries: 1 });
    const self = file("self.trec", "q1 Q0 q1 1 9 t\nq1 Q0 d1 2 8 t\nq1 Q0 d3 3 7 t\n");
    const kept = await runEval(evalArgs(["--data", TINY, "--from-run", self, "--run", join(tmp, "s1.trec")]), quiet);
    const dropped = await runEval(evalArgs(["--data", TINY, "--from-run", self, "--ignore-identical-ids", "--run", join(tmp, "s2.trec")]), quiet);
    expect(dropped.metrics["MRR@10"]).toBeGreaterThan(kept.metrics["MRR@10"]);
  });
  it("i3 eval exit codes: 2 for bad arguments, 1 for missing files (a message, no stack), 0 for --help", async () => {
    const run = async (...argv: string[]) => {
      const err: string[] = [];
      const out: string[] = [];
      const code = await runEvalCommand(argv, { err: (l) => err.push(l), out: (l) => out.push(l) });
      return { code, err: err.join("\n"), out: out.join("\n") };
    };
    const usage = await run("--data", TINY);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/^i3 eval: one of --index[\s\S]*usage: i3 eval/);
    const missing = await run("--data", join(tmp, "missing"), "--model", "bm25");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/BEIR directory not found/);
    expect(missing.err).not.toMatch(/\n\s+at /);
    const noModel = await run("--data", TINY, "--model", join(tmp, "nomodel"));
    expect(noModel.code).toBe(1);
    expect(noModel.err).toMatch(/nomodel: cannot read model.json/);
    const ok = await run("--data", TINY, "--model", "bm25", "--json", "--run", join(tmp, "j.trec"));
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).metrics["nDCG@10"]).toBeCloseTo(2 / 3, 12);
    const help = await run("--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--regression PATH/);
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
  it("model directory: read by the build's loader (model.json checked), the full-precision query model", async () => {
    const m = await loadModel(`${TINY}/model`);
    expect(m.sidecar).toMatchObject({ name: "tiny", maxPassageTokens: 4, maxQueryTokens: 4 });
    await expect(loadModel(TINY)).rejects.toThrow(/cannot read model.json/);
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
    // Query 2 scores p3 2 and p1, p2 0 each. The top k is src/search/topk.ts's: tied documents it keeps come out
    // by lower index (all three with k 3); which of a tie at the k boundary it keeps, it does not define.
    expect(res[1].idx[0]).toBe(2);
    expect([...res[1].scores]).toEqual([2, 0]);
    const all = exactSearch(P, 3, Q, 2, 3, 3);
    expect([...all[1].idx]).toEqual([2, 0, 1]);
    expect([...all[1].scores]).toEqual([2, 0, 0]);
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
    const r = await runEval(evalArgs(["--data", dir, "--endpoint", url, "--run", join(tmp, "ep.trec")]), quiet);
    expect(r.k).toBe(100);
    expect(r.queries).toBe(3);
    // every query gets d2 (0.9) then d1 (0.5): q1 has d1 (grade 2) at rank 2
    expect(r.metrics["MRR@10"]).toBeCloseTo((0.5 + 1 + 0) / 3, 12);
  });
});
