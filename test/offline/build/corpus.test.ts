// Corpus validation and passage splitting of `i3 build`: every bad corpus fails with file:line and leaves no <out>.
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex } from "../../../offline/build/build.ts";
import { runBuildCommand } from "../../../offline/build/command.ts";
import { parseDocLine, readCorpus, type CorpusDoc } from "../../../offline/build/corpus.ts";
import { passageCount, passageText, splitPassages } from "../../../src/text/passages.ts";
import { parseSlice, sliceRange } from "../../../offline/build/slice.ts";

const FIX = path.resolve(import.meta.dirname, "../../fixtures/corpus-tiny");
const MODEL = path.join(FIX, "model");
const quiet = { write: () => true };
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-build-corpus-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("splitPassages", () => {
  it("cuts overlapping windows, the last one ending at the last id", () => {
    expect(splitPassages([1, 2, 3, 4, 5], 3, 2)).toEqual([[1, 2, 3], [3, 4, 5]]);
    expect(splitPassages([1, 2, 3, 4, 5, 6], 3, 2)).toEqual([[1, 2, 3], [3, 4, 5], [5, 6]]);
    expect(splitPassages([1, 2], 3, 2)).toEqual([[1, 2]]);
    expect(splitPassages([1, 2, 3, 4, 5], 3, 2, false)).toEqual([[1, 2, 3]]);
  });
  it("passageCount agrees with splitPassages", () => {
    for (let n = 1; n < 60; n++) {
      for (const [w, s] of [[8, 6], [8, 8], [5, 1], [128, 96]]) {
        const ids = Array.from({ length: n }, (_, i) => i);
        const ps = splitPassages(ids, w, s);
        expect(ps.length).toBe(passageCount(n, w, s));
        expect(ps.at(-1)!.at(-1)).toBe(n - 1);
        expect(ps.every((p) => p.length <= w && p.length > 0)).toBe(true);
      }
    }
  });
  it("passageText joins title and text, or uses whichever is there", () => {
    expect(passageText({ title: "T", text: "x" })).toBe("T x");
    expect(passageText({ title: "T", text: "" })).toBe("T");
    expect(passageText({ title: " ", text: "x" })).toBe("x");
    expect(passageText({ text: "x" })).toBe("x");
  });
});

describe("slices", () => {
  it("parses k/n and splits contiguous ranges covering every document once", () => {
    expect(parseSlice("2/3")).toEqual({ k: 2, n: 3 });
    for (const bad of ["0/2", "3/2", "1", "a/b", "1/0"]) expect(() => parseSlice(bad)).toThrow(/--shard/);
    for (const N of [0, 1, 5, 12, 5183]) {
      for (const n of [1, 2, 3, 7]) {
        let next = 0;
        for (let k = 1; k <= n; k++) {
          const r = sliceRange(N, { k, n });
          expect(r.first).toBe(next);
          next = r.end;
        }
        expect(next).toBe(N);
      }
    }
  });
});

describe("parseDocLine", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  it("reads BEIR and JSONL lines, skips blank lines", () => {
    expect(parseDocLine("f", 1, enc(`{"_id":"a","title":"t","text":"x"}`))).toEqual({ id: "a", title: "t", text: "x" });
    expect(parseDocLine("f", 1, enc(`\ufeff{"id":7,"text":"x","metadata":{"k":1}}\r`))).toEqual({ id: "7", text: "x", metadata: { k: 1 } });
    expect(parseDocLine("f", 3, enc("   \r"))).toBeUndefined();
  });
});

describe("bad corpora", () => {
  const cases: Array<[string, number, RegExp]> = [
    ["bad-json.jsonl", 2, /malformed JSON/],
    ["bad-missing-id.jsonl", 3, /missing id/],
    ["bad-missing-text.jsonl", 2, /missing "text"/],
    ["bad-duplicate.jsonl", 3, /duplicate id "x0"/],
    ["bad-empty.jsonl", 2, /empty text and no title/],
    ["bad-not-object.jsonl", 2, /expected a JSON object/],
    ["bad-utf8.jsonl", 2, /invalid UTF-8 at byte 20/],
  ];
  beforeAll(async () => {
    const line2 = Buffer.concat([Buffer.from(`{"id":"x1","text":"a`), Buffer.from([0xff, 0xfe]), Buffer.from(`"}\n`)]);
    await writeFile(path.join(tmp, "bad-utf8.jsonl"), Buffer.concat([Buffer.from(`{"id":"x0","text":"a"}\n`), line2]));
  });
  it.each(cases)("%s fails at line %i and leaves no output", async (file, line, re) => {
    const corpus = file === "bad-utf8.jsonl" ? path.join(tmp, file) : path.join(FIX, file);
    const out = path.join(tmp, `out-${file}`);
    const err = await buildIndex({ corpus, model: MODEL, out, device: "cpu", stderr: quiet }).then(() => undefined, (e) => e);
    expect(err?.code).toBe("invalid_corpus");
    expect(err.message).toContain(`${corpus}:${line}: `);
    expect(err.message).toMatch(re);
    const left = await readdir(tmp);
    expect(left).not.toContain(`out-${file}`);
    expect(left).not.toContain(`out-${file}.partial`);
  });
});

describe("--skip-empty", () => {
  it("the reader skips documents without title and text and reports them; ids stay unique across them", async () => {
    const skipped: CorpusDoc[] = [];
    const kept: string[] = [];
    for await (const { doc } of readCorpus(path.join(FIX, "bad-empty.jsonl"), { skipEmpty: true, onSkip: (d) => skipped.push(d) })) kept.push(doc.id);
    expect(kept).toEqual(["x0"]);
    expect(skipped.map((d) => [d.line, d.doc.id])).toEqual([[2, "x1"]]);
    const dup = path.join(tmp, "empty-dup.jsonl");
    await writeFile(dup, '{"id":"a","text":""}\n{"id":"a","text":"x"}\n');
    await expect(async () => {
      for await (const _ of readCorpus(dup, { skipEmpty: true })) void _;
    }).rejects.toThrow(/empty-dup.jsonl:2: duplicate id "a"/);
  });

  it("i3 build --skip-empty builds without them, says so on stderr and counts them in build-info.json", async () => {
    const out = path.join(tmp, "skip-empty");
    const err: string[] = [];
    const code = await runBuildCommand(["--corpus", path.join(FIX, "bad-empty.jsonl"), "--model", MODEL, "--out", out, "--device", "cpu", "--skip-empty"], {
      err: (l) => err.push(l), out: () => {},
    });
    expect(code, err.join("\n")).toBe(0);
    const manifest = JSON.parse(await readFile(path.join(out, "manifest.json"), "utf8"));
    expect(manifest.corpus.documents).toBe(1);
    const info = JSON.parse(await readFile(path.join(out, "build-info.json"), "utf8"));
    expect(info.skippedEmpty).toBe(1);
    expect(info.fingerprint.skipEmpty).toBe(true);
    const said: string[] = [];
    await buildIndex({ corpus: path.join(FIX, "bad-empty.jsonl"), model: MODEL, out: `${out}-2`, device: "cpu", skipEmpty: true, stderr: { write: (l) => said.push(l) > 0 } });
    expect(said.join("")).toContain(`skipping 1 empty document(s): ${path.join(FIX, "bad-empty.jsonl")}:2 "x1"`);
  });

  it("without the flag a build reports nothing skipped and keeps its fingerprint unchanged", async () => {
    const out = path.join(tmp, "no-skip");
    await buildIndex({ corpus: path.join(FIX, "good.jsonl"), model: MODEL, out, device: "cpu", stderr: quiet });
    const info = JSON.parse(await readFile(path.join(out, "build-info.json"), "utf8"));
    expect(info).not.toHaveProperty("skippedEmpty");
    expect(info.fingerprint).not.toHaveProperty("skipEmpty");
  });
});
