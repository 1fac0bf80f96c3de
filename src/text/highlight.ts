// Snippets with highlights: the best-matching passage of a document (the token windows the index was built with,
// src/text/passages.ts), cut to a readable length, with the query's terms marked where the BM25 analyzer
// (src/text/analyzer.ts) finds them, so "bones" marks "bone" and "Running" marks "run".
import { analyzeSpans, queryTermCounts, type TermSpan } from "./analyzer";
import { passageCount, passageText } from "./passages";
import type { Tokenizer } from "./tokenizer";

/** Characters of a snippet at most (a longer passage is cut around its matches, at spaces). */
export const SNIPPET_CHARS = 300;

export interface Highlight {
  /** The snippet: part of the passage's text (NFKC-normalized, as the encoder read it). */
  text: string;
  /** Marked terms as [start, end) UTF-16 offsets into `text`, ascending. */
  marks: Array<[number, number]>;
  /** `text` as HTML: marked terms in <mark>, everything else escaped (& < > " '). */
  html: string;
  /** Which passage of the document (0: the first window). */
  passage: number;
}

/** The passages of a document as [start, end) ranges of its NFKC text: windows of `window` tokens every `stride`. */
export function passageRanges(text: string, tokenizer: Tokenizer, window: number, stride: number): Array<[number, number]> {
  const { ends } = tokenizer.encodeSpans(text);
  if (ends.length === 0) return [[0, 0]];
  const n = passageCount(ends.length, window, stride);
  const out: Array<[number, number]> = [];
  for (let p = 0; p < n; p++) {
    const first = p * stride;
    const last = Math.min(first + window, ends.length) - 1;
    out.push([first === 0 ? 0 : ends[first - 1], ends[last]]);
  }
  return out;
}

/**
 * The highlight of one document for a query: the passage where the query's distinct terms (weighted by their count
 * in the query) occur most, ties to the earlier; the first passage when none occurs.
 *
 * @example
 * highlightDocument({ title: "Bone", text: "..." }, "bone density", { tokenizer, window: 128, stride: 96 });
 */
export function highlightDocument(
  doc: { title?: string; text: string }, query: string,
  opts: { tokenizer: Tokenizer; window: number; stride: number; maxChars?: number },
): Highlight {
  const source = passageText(doc);
  const text = source.normalize("NFKC");
  const counts = queryTermCounts(query);
  const spans = analyzeSpans(text).filter((s) => counts.has(s.term));
  const ranges = passageRanges(source, opts.tokenizer, opts.window, opts.stride);
  let best = 0, bestScore = -1;
  ranges.forEach(([start, end], p) => {
    const inside = spans.filter((s) => s.start >= start && s.end <= end);
    const distinct = new Set(inside.map((s) => s.term));
    const score = [...distinct].reduce((n, t) => n + counts.get(t)!, 0) * 1000 + inside.length;
    if (score > bestScore) [best, bestScore] = [p, score];
  });
  const [start, end] = ranges[best];
  const matched = spans.filter((s) => s.start >= start && s.end <= end);
  const [from, to] = cut(text, start, end, matched, opts.maxChars ?? SNIPPET_CHARS);
  const snippet = text.slice(from, to);
  const marks = matched.filter((s) => s.start >= from && s.end <= to).map((s): [number, number] => [s.start - from, s.end - from]);
  return { text: snippet, marks, html: markHtml(snippet, marks), passage: best };
}

/** [from, to) of at most `max` characters within [start, end): from a little before the first match, at spaces. */
function cut(text: string, start: number, end: number, matched: TermSpan[], max: number): [number, number] {
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  if (end - start <= max) return [start, end];
  let from = matched.length ? Math.max(start, Math.min(matched[0].start - Math.floor(max / 5), end - max)) : start;
  if (from > start) {
    const space = text.indexOf(" ", from);
    if (space >= 0 && space < from + 20 && space < end) from = space + 1;
  }
  let to = Math.min(end, from + max);
  if (to < end) {
    const space = text.lastIndexOf(" ", to);
    if (space > from + max / 2) to = space;
  }
  return [from, to];
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** `text` with each mark in <mark>...</mark> and the rest HTML-escaped. */
export function markHtml(text: string, marks: Array<[number, number]>): string {
  let out = "", at = 0;
  for (const [s, e] of marks) {
    out += `${escapeHtml(text.slice(at, s))}<mark>${escapeHtml(text.slice(s, e))}</mark>`;
    at = e;
  }
  return out + escapeHtml(text.slice(at));
}
