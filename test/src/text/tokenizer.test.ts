import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createTokenizer, type VocabEntry } from "../../../src/text/tokenizer/index";

const root = join(__dirname, "..", "..", "..");
const vocab = JSON.parse(readFileSync(join(root, "models/use-lite/vocab.json"), "utf8")) as VocabEntry[];
const fixture = JSON.parse(readFileSync(join(root, "test/fixtures/tokenizer-cases.json"), "utf8")) as {
  count: number;
  cases: Array<{ text: string; ids: number[] }>;
};
const tok = createTokenizer(vocab);

describe("USE-lite tokenizer", () => {
  it("has the 8000-piece vocabulary", () => {
    expect(tok.vocabSize).toBe(8000);
  });

  it.each([
    ["Hello world.", [341, 4125, 311, 6]],
    ["hello world", [2002, 102, 311]],
    ["café naïve ＡＢＣ ① ﬁ", [976, 209, 1133, 1216, 0, 105, 74, 2512, 207, 1480]],
    ["", []],
    [" ", [30, 30]],
    ["time 10:30 :) :-) http://x.com ):", [99, 320, 4177, 658, 6600, 290, 255, 152, 6, 167, 30, 4445]],
    ["The quick brown fox jumps over the lazy dog!", [34, 2280, 3744, 1394, 152, 2009, 7, 132, 9, 6266, 959, 78]],
  ])("spec example %j", (text, ids) => {
    expect(tok.encode(text)).toEqual(ids);
  });

  it("matches the TF.js tokenizer on every fixture case", () => {
    expect(fixture.cases.length).toBe(fixture.count);
    expect(fixture.cases.length).toBeGreaterThanOrEqual(600);
    const mismatches: Array<{ text: string; want: number[]; got: number[] }> = [];
    for (const { text, ids } of fixture.cases) {
      const got = tok.encode(text);
      if (got.length !== ids.length || got.some((id, i) => id !== ids[i])) mismatches.push({ text, want: ids, got });
    }
    console.log(`tokenizer parity: ${fixture.cases.length - mismatches.length}/${fixture.cases.length} cases match`);
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it("is deterministic across calls (buffers are reused)", () => {
    const long = "x:30 ".repeat(1000);
    const a = tok.encode(long);
    tok.encode("short");
    expect(tok.encode(long)).toEqual(a);
    expect(tok.encode("Hello world.")).toEqual([341, 4125, 311, 6]);
  });

  it("only emits unk (0) or ids 6..7999, and never two unks in a row", () => {
    for (const { text } of fixture.cases.slice(0, 400)) {
      const ids = tok.encode(text);
      ids.forEach((id, i) => {
        expect(id === 0 || (id >= 6 && id < 8000)).toBe(true);
        if (i > 0) expect(id === 0 && ids[i - 1] === 0).toBe(false);
      });
    }
  });
});
