/**
 * The demo corpus with filterable metadata derived from each SciFact abstract (data/demo is shipped unmodified):
 *  - `words` (int): the abstract's length in words;
 *  - `topics` (keyword[]): study kinds the title or abstract names: "trial" (randomized / controlled trial),
 *    "cohort", "meta-analysis", "mouse" (mice, mouse, murine), "human" (patients, participants, women, men, children).
 * `npm start` builds the demo index with `--fields words:int,topics:keyword[]` over the corpus this writes.
 */
import { readFileSync, writeFileSync } from "node:fs";

export const DEMO_FIELDS = "words:int,topics:keyword[]";

const TOPICS: Array<[string, RegExp]> = [
  ["trial", /\brandomi[sz]ed\b|\bcontrolled trial\b/i],
  ["cohort", /\bcohort\b/i],
  ["meta-analysis", /\bmeta-analys[ie]s\b/i],
  ["mouse", /\bmice\b|\bmouse\b|\bmurine\b/i],
  ["human", /\bpatients\b|\bparticipants\b|\bwomen\b|\bmen\b|\bchildren\b/i],
];

/** The metadata of one document. */
export function demoMetadata(doc: { title?: string; text: string }): { words: number; topics: string[] } {
  const all = `${doc.title ?? ""} ${doc.text}`;
  return { words: doc.text.split(/\s+/).filter(Boolean).length, topics: TOPICS.filter(([, re]) => re.test(all)).map(([t]) => t) };
}

/** Writes `out`: every line of `corpus` with its derived metadata. */
export function writeDemoCorpus(corpus: string, out: string): void {
  const lines = readFileSync(corpus, "utf8").split("\n").filter((l) => l.trim());
  writeFileSync(out, lines.map((l) => {
    const doc = JSON.parse(l);
    return JSON.stringify({ ...doc, metadata: { ...doc.metadata, ...demoMetadata(doc) } });
  }).join("\n") + "\n");
}
