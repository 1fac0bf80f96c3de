import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyze, analyzeSpans } from "../../../src/text/analyzer";
import { highlightDocument, markHtml, passageRanges } from "../../../src/text/highlight";
import { passageCount } from "../../../src/text/passages";
import { createTokenizer, type VocabEntry } from "../../../src/text/tokenizer/index";

const root = join(import.meta.dirname, "../../..");
const tok = createTokenizer(JSON.parse(readFileSync(join(root, "models/use-lite/vocab.json"), "utf8")) as VocabEntry[]);
const corpus = readFileSync(join(root, "test/fixtures/scifact-mini/corpus.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));

describe("analyzeSpans", () => {
  it("gives exactly analyze()'s terms, each at its token in the NFKC text", () => {
    const texts = [...corpus.map((d: any) => `${d.title} ${d.text}`), "The children's bones, Ｆｕｌｌ ﬁle x² café's 'S's", "維生素D 骨密度"];
    for (const t of texts) {
      const spans = analyzeSpans(t);
      expect(spans.map((s) => s.term)).toEqual(analyze(t));
      const norm = t.normalize("NFKC");
      for (const s of spans) expect(analyze(norm.slice(s.start, s.end))).toEqual([s.term]);
    }
  });
});

describe("tokenizer spans", () => {
  it("encodeSpans gives encode()'s ids, with ends that ascend and cover the NFKC text", () => {
    for (const d of corpus.slice(0, 50)) {
      const text = `${d.title} ${d.text}`;
      const { ids, ends } = tok.encodeSpans(text);
      expect(ids).toEqual(tok.encode(text));
      for (let i = 1; i < ends.length; i++) expect(ends[i]).toBeGreaterThanOrEqual(ends[i - 1]);
      expect(ends.at(-1)).toBe(text.normalize("NFKC").length);
    }
  });
  it("passages are the index's token windows, mapped to text: overlapping, in order, covering the document", () => {
    const text = corpus.map((d: any) => d.text).join(" ").slice(0, 6000);
    const ranges = passageRanges(text, tok, 128, 96);
    expect(ranges).toHaveLength(passageCount(tok.encode(text).length, 128, 96));
    expect(ranges[0][0]).toBe(0);
    expect(ranges.at(-1)![1]).toBe(text.length);
    for (let i = 1; i < ranges.length; i++) {
      expect(ranges[i][0]).toBeGreaterThan(ranges[i - 1][0]);
      expect(ranges[i][0]).toBeLessThan(ranges[i - 1][1]); // they overlap, as the windows do
    }
  });
});

describe("highlightDocument", () => {
  const filler = "The study measured many outcomes in several cohorts over the years. ".repeat(40);
  const doc = { title: "A long report", text: `${filler}Zebrafish regenerate their hearts; regeneration in zebrafish is fast. ${filler}` };

  it("picks the best-matching passage, not the document's start, and marks stemmed matches", () => {
    const h = highlightDocument(doc, "zebrafish heart regenerating", { tokenizer: tok, window: 128, stride: 96 });
    expect(h.passage).toBeGreaterThan(0);
    expect(h.text.length).toBeLessThanOrEqual(300);
    const marked = h.marks.map(([s, e]) => h.text.slice(s, e));
    expect(marked).toEqual(expect.arrayContaining(["Zebrafish", "hearts", "regenerate", "regeneration", "zebrafish"]));
    for (const m of marked) expect(analyze(m)).toHaveLength(1);
    expect(h.html).toBe(markHtml(h.text, h.marks));
    expect(h.html).toContain("<mark>Zebrafish</mark>");
  });

  it("with no query term in the document: its first passage, nothing marked", () => {
    const h = highlightDocument(doc, "quokka", { tokenizer: tok, window: 128, stride: 96 });
    expect(h).toMatchObject({ passage: 0, marks: [] });
    expect(h.text.startsWith("A long report")).toBe(true);
  });

  it("escapes HTML outside and inside the marks", () => {
    const h = highlightDocument({ text: `<b>bone</b> & "density" 'x'` }, "bone density", { tokenizer: tok, window: 128, stride: 96 });
    expect(h.html).toBe(`&lt;b&gt;<mark>bone</mark>&lt;/b&gt; &amp; &quot;<mark>density</mark>&quot; &#39;x&#39;`);
    expect(markHtml("a<b", [[0, 1]])).toBe("<mark>a</mark>&lt;b");
  });
});
