// Passage splitting: a document's token ids cut into overlapping windows.

/** The text a document is tokenized from: `title + " " + text`, or whichever of the two is non-empty. */
export function passageText(doc: { title?: string; text: string }): string {
  const title = doc.title?.trim() ? doc.title : "";
  if (!title) return doc.text;
  if (!doc.text.trim()) return title;
  return `${title} ${doc.text}`;
}

/** Number of windows `splitPassages` makes of `tokens` ids. */
export function passageCount(tokens: number, window: number, stride: number, split = true): number {
  if (!split || tokens <= window) return 1;
  return 1 + Math.ceil((tokens - window) / stride);
}

/**
 * Windows of `window` ids starting every `stride` ids (stride <= window, so they overlap by window - stride);
 * the last window ends at the last id (it may be shorter). Without `split`, only the first window.
 *
 * @example
 * splitPassages([1, 2, 3, 4, 5], 3, 2); // [[1, 2, 3], [3, 4, 5]]
 */
export function splitPassages(ids: number[], window: number, stride: number, split = true): number[][] {
  const n = passageCount(ids.length, window, stride, split);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) out.push(ids.slice(i * stride, i * stride + window));
  return out;
}
