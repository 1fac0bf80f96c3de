/**
 * The USE-lite SentencePiece tokenizer, id for id with the TF.js one
 * (`Tokenizer` of `@tensorflow-models/universal-sentence-encoder`, see docs/ARCHITECTURE.md and section 5 of the
 * USE-lite spec). Pure TypeScript, no Node APIs: it runs in Node and inside workerd.
 *
 * Behaviour reproduced exactly, quirks included:
 * - `text.normalize('NFKC')`; no lowercasing, trimming or whitespace collapsing. Empty after NFKC -> `[]`.
 * - `'▁'` (U+2581) is prepended and every U+0020 becomes `'▁'`; tabs/newlines stay as they are (usually unk).
 * - Symbols are UTF-16 **code units** (the JS splits strings with a down-levelled `for...of`): an astral character
 *   is two symbols, which normally end up as one merged unk.
 * - Trie of pieces 6..7999 in id order; a duplicate piece overwrites the earlier one (score and id); `null` scores
 *   count as 0. At a position where no piece matches, a single-symbol unk (id 0, score 0) is the only candidate.
 * - Viterbi with `best[]` initialised to 0 and 0 doubling as "unset": a candidate wins when
 *   `best[end] === 0 || score >= best[end]` (ties go to the later candidate), starts visited in ascending order.
 * - Backtrack by the UTF-16 length of the chosen piece's text; runs of consecutive unks are merged into one 0.
 * - No BOS/EOS, no offset, no truncation (truncation to the model window is the caller's job).
 *
 * @example
 * ```ts
 * import vocab from "../../../models/use-lite/vocab.json";
 * import { createTokenizer } from "./tokenizer";
 *
 * const tok = createTokenizer(vocab as Array<[string, number | null]>);
 * tok.encode("Hello world."); // [341, 4125, 311, 6]   (▁H ello ▁world .)
 * tok.encode(" ");            // [30, 30]
 * tok.encode("");             // []
 * tok.vocabSize;              // 8000
 * ```
 */
import { PieceTrie } from "./trie";

export { PieceTrie } from "./trie";

/** A tokenizer built once from a vocabulary; `encode` is safe to call any number of times (not re-entrant). */
export interface Tokenizer {
  /** Token ids of `text`, exactly as the TF.js tokenizer returns them. */
  encode(text: string): number[];
  /**
   * The same ids with where each token ends in `text.normalize("NFKC")` (UTF-16 offset, exclusive): token i covers
   * [ends[i - 1] (0 for the first), ends[i]). For mapping passages (token windows) back to text.
   */
  encodeSpans(text: string): { ids: number[]; ends: number[] };
  /** Number of pieces in the vocabulary (ids are `0..vocabSize-1`). */
  vocabSize: number;
}

/** A vocabulary entry: `[piece, score]`; id = array index. Scores may be `null` (the USE vocab has 7 such pieces). */
export type VocabEntry = readonly [string, number | null];

/** Ids 0..5 (unk, `<s>`, `</s>`, `extra_token_id_1..3`) are never inserted in the trie. */
export const RESERVED_SYMBOLS = 6;
/** The unk id, the only reserved id the tokenizer can emit. */
export const UNK_ID = 0;

const SEPARATOR = 0x2581; // '▁'
const SPACE = 0x20;

/**
 * Builds a tokenizer from a USE-lite vocabulary (`models/use-lite/vocab.json`).
 * The trie and all lookup tables are built here, once; `encode` reuses its working buffers between calls.
 */
export function createTokenizer(vocab: ReadonlyArray<VocabEntry>): Tokenizer {
  if (vocab.length === 0 || typeof vocab[UNK_ID]?.[0] !== "string" || vocab[UNK_ID][0].length === 0) {
    throw new Error("tokenizer: vocab[0] must be the (non-empty) unk piece");
  }
  const pieces: Array<[string, number, number]> = [];
  // Backtracking steps back by the UTF-16 length of the piece text of the chosen id (vocab[id][0].length).
  const pieceLength = new Int32Array(vocab.length);
  for (let id = 0; id < vocab.length; id++) {
    const entry = vocab[id];
    if (!Array.isArray(entry) || typeof entry[0] !== "string") {
      throw new Error(`tokenizer: vocab[${id}] is not a [piece, score] pair`);
    }
    pieceLength[id] = entry[0].length;
    if (id >= RESERVED_SYMBOLS) pieces.push([entry[0], Number(entry[1] ?? 0), id]);
  }
  const trie = new PieceTrie(pieces);
  const nodeId = trie.pieceId;
  const nodeScore = trie.pieceScore;

  // Working buffers, grown on demand and reused by every call.
  let units = new Uint16Array(0); // symbols: '▁' + NFKC text with ' ' -> '▁'
  let best = new Float64Array(0); // best[end]: best score of a segmentation of units[0..end)
  let words = new Int32Array(0); // words[end]: id of the last piece of that segmentation
  let path = new Int32Array(0); // ids of the backtracked path, last piece first
  let pathEnds = new Int32Array(0); // the unit each of them ends at

  function encode(text: string): number[] {
    return encodeSpans(text).ids;
  }

  function encodeSpans(text: string): { ids: number[]; ends: number[] } {
    const s = text.normalize("NFKC");
    if (s.length === 0) return { ids: [], ends: [] };
    const n = s.length + 1;
    if (units.length < n) {
      const cap = Math.max(n, units.length * 2, 256);
      units = new Uint16Array(cap);
      best = new Float64Array(cap + 1);
      words = new Int32Array(cap + 1);
      path = new Int32Array(cap);
      pathEnds = new Int32Array(cap);
    }
    units[0] = SEPARATOR;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      units[i + 1] = c === SPACE ? SEPARATOR : c;
    }
    best.fill(0, 0, n + 1);
    words.fill(0, 0, n + 1);

    // Forward Viterbi, relaxing from each start in ascending order. For a given end this visits its candidates in
    // the same order as the JS (ascending start), and best[start] is final by the time start is visited.
    for (let start = 0; start < n; start++) {
      const base = best[start];
      let matched = false;
      let node = 0;
      for (let k = start; k < n; k++) {
        node = trie.next(node, units[k]);
        if (node < 0) break;
        const id = nodeId[node];
        if (id >= 0) {
          matched = true;
          const end = k + 1;
          const score = nodeScore[node] + base;
          const cur = best[end];
          if (cur === 0 || score >= cur) {
            best[end] = score;
            words[end] = id;
          }
        }
      }
      if (!matched) {
        // No piece is a prefix here: a single-symbol unk with score 0.
        const end = start + 1;
        const score = 0 + base;
        const cur = best[end];
        if (cur === 0 || score >= cur) {
          best[end] = score;
          words[end] = UNK_ID;
        }
      }
    }

    // Backtrack (an end no candidate reaches keeps words[end] = 0, i.e. unk, exactly as in the JS).
    let m = 0;
    for (let it = n; it > 0; it -= pieceLength[words[it]]) {
      pathEnds[m] = it;
      path[m++] = words[it];
    }

    // Reverse and merge runs of unks (a merged unk ends where its last one does). Unit u is s[u - 1] (unit 0 is the
    // prepended '▁').
    const out: number[] = [];
    const ends: number[] = [];
    let prevUnk = false;
    for (let j = m - 1; j >= 0; j--) {
      const id = path[j];
      const end = Math.max(0, pathEnds[j] - 1);
      if (!(prevUnk && id === UNK_ID)) {
        out.push(id);
        ends.push(end);
      } else ends[ends.length - 1] = end;
      prevUnk = id === UNK_ID;
    }
    return { ids: out, ends };
  }

  return { encode, encodeSpans, vocabSize: vocab.length };
}
