// The English analyzer of the lexical index. Runs unchanged in Node (the offline writer, eval) and in workerd
// (the worker's query side): text -> NFKC -> lower case -> drop possessive "'s" -> maximal runs of letters,
// marks and digits (\p{L}\p{M}\p{N}) -> drop English stop words (Lucene's EnglishAnalyzer set) -> Porter stem.
// Its name and version are recorded in the manifest; a reader uses the lexical section only when they match
// ANALYZER, so documents and queries are never analyzed differently.
import { stemmer } from "stemmer";

/** Name and version written into `manifest.lexical.analyzer`. Bump the version on any change of output. */
export const ANALYZER = { name: "en-porter", version: 1 } as const;

/** Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`. */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of",
  "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with",
]);

/** Tokens longer than this (in code points) are cut to it (long runs of unsegmented scripts, hashes). */
export const MAX_TOKEN_CHARS = 64;

const TOKEN = /[\p{L}\p{M}\p{N}]+/gu;
const POSSESSIVE = /['\u2019\uff07]s(?![\p{L}\p{M}\p{N}])/gu;

/**
 * Terms of `text` in order, repeats kept (documents need term frequencies; queries dedupe themselves).
 *
 * @example
 * analyze("The Vitamin-D levels of children's bones"); // ["vitamin", "d", "level", "children", "bone"]
 */
export function analyze(text: string): string[] {
  const norm = text.normalize("NFKC").toLowerCase().replace(POSSESSIVE, "");
  const out: string[] = [];
  for (const m of norm.matchAll(TOKEN)) {
    let t = m[0];
    if (STOP_WORDS.has(t)) continue;
    if (t.length > MAX_TOKEN_CHARS) t = Array.from(t).slice(0, MAX_TOKEN_CHARS).join("");
    out.push(t.length > 2 ? stemmer(t) : t);
  }
  return out;
}

/** A term of `analyzeSpans`: where its token lies in the NFKC form of the text (UTF-16 offsets, end exclusive). */
export interface TermSpan {
  term: string;
  start: number;
  end: number;
}

const APOSTROPHES = new Set(["'", "\u2019", "\uff07"]);

/**
 * The terms of `analyze(text)` with where each token lies in `text.normalize("NFKC")`: the same terms in the same
 * order (a possessive "'s" is skipped rather than cut out), so a highlighter marks exactly what BM25 matched.
 *
 * @example
 * analyzeSpans("Bones of children"); // [{ term: "bone", start: 0, end: 5 }, { term: "children", start: 9, end: 17 }]
 */
export function analyzeSpans(text: string): TermSpan[] {
  const norm = text.normalize("NFKC");
  const out: TermSpan[] = [];
  for (const m of norm.matchAll(TOKEN)) {
    const start = m.index;
    let t = m[0].toLowerCase();
    if (t === "s" && start > 0 && APOSTROPHES.has(norm[start - 1])) continue;
    if (STOP_WORDS.has(t)) continue;
    if (t.length > MAX_TOKEN_CHARS) t = Array.from(t).slice(0, MAX_TOKEN_CHARS).join("");
    out.push({ term: t.length > 2 ? stemmer(t) : t, start, end: start + m[0].length });
  }
  return out;
}

/**
 * The distinct terms of a query with how often each occurs, in first-seen order. BM25 weights a term by its count,
 * as Lucene does (Anserini's bag-of-words query: one clause per distinct term, boosted by its count).
 *
 * @example
 * queryTermCounts("bone bones density"); // Map { "bone" => 2, "densiti" => 1 }
 */
export function queryTermCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of analyze(text)) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

/** The distinct terms of a query, in first-seen order. */
export function queryTerms(text: string): string[] {
  return [...queryTermCounts(text).keys()];
}

/** True when a manifest's analyzer is the one this code implements. */
export function isKnownAnalyzer(a: { name: string; version: number }): boolean {
  return a.name === ANALYZER.name && a.version === ANALYZER.version;
}
