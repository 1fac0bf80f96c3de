import { describe, expect, it } from "vitest";
import { createTokenizer } from "../../src/text/tokenizer";
import { repoJson } from "./helpers";

describe("tokenizer inside workerd", () => {
  it("gives the TF.js ids on every fixture case (NFKC and string handling of workerd, not Node)", async () => {
    const tok = createTokenizer(await repoJson("models/use-lite/vocab.json"));
    const fixture = await repoJson("test/fixtures/tokenizer-cases.json");
    const cases: Array<{ text: string; ids: number[] }> = fixture.cases ?? fixture;
    expect(cases.length).toBeGreaterThanOrEqual(500);
    const mismatches = cases.filter((c) => JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.ids));
    expect(mismatches.map((c) => c.text)).toEqual([]);
  });
});
