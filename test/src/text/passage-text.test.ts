// test/fixtures/passage-text-cases.json is what passageText answers (scripts/fixtures/gen-passage-text.ts): the
// Python twin (offline/train/data.py passage_text) is checked against it, so it must not go stale.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { passageText } from "../../../src/text/passages.ts";

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "../../fixtures/passage-text-cases.json"), "utf8")) as {
  cases: Array<{ doc: { title?: string; text: string }; text: string }>;
};

describe("passageText", () => {
  it("gives the fixture's text for every case (the file the Python twin is checked against)", () => {
    expect(fixture.cases.length).toBeGreaterThanOrEqual(15);
    expect(fixture.cases.map((c) => passageText(c.doc))).toEqual(fixture.cases.map((c) => c.text));
  });

  it("joins title and text with one space, or keeps whichever is not blank", () => {
    expect(passageText({ title: "T", text: "x" })).toBe("T x");
    expect(passageText({ title: " ", text: "x" })).toBe("x");
    expect(passageText({ title: "T", text: "\n" })).toBe("T");
    expect(passageText({ text: "x" })).toBe("x");
  });
});
