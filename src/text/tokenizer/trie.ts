/**
 * A prefix trie over UTF-16 code units, stored in flat typed arrays.
 *
 * The TF.js USE tokenizer splits strings with a down-levelled `for...of` (`for (i = 0; i < s.length; i++) s[i]`),
 * i.e. into UTF-16 **code units**, not code points. Keys here are therefore code units (0..0xFFFF), which is both
 * exact and cheaper than decoding code points.
 *
 * Layout: node 0 is the root. Edges live in an open-addressing hash table keyed by (parent node, code unit);
 * the root's edges additionally live in a dense 65,536-entry table because every lattice position starts there.
 * Built once; lookups allocate nothing.
 */

const NO_NODE = -1;

export class PieceTrie {
  /** Piece id ending at each node, or -1 when no piece ends there. */
  readonly pieceId: Int32Array;
  /** Score of the piece ending at each node (null scores are stored as 0, as `null + x === x` in JS). */
  readonly pieceScore: Float64Array;
  /** Number of nodes, root included. */
  readonly size: number;

  private readonly rootNext: Int32Array;
  private readonly slotParent: Int32Array;
  private readonly slotUnit: Int32Array;
  private readonly slotChild: Int32Array;
  private readonly mask: number;

  /**
   * @param pieces `pieces[k] = [text, score, id]`, inserted in order, so a later duplicate overwrites the earlier
   *   one's score and id (the JS trie does the same). Empty pieces are ignored (the JS insert loop never runs).
   */
  constructor(pieces: ReadonlyArray<readonly [string, number, number]>) {
    // Pass 1: build with a Map to count nodes and edges, then freeze into typed arrays.
    const edges = new Map<number, number>(); // parent * 65536 + unit -> child
    const ids: number[] = [-1];
    const scores: number[] = [0];
    for (const [text, score, id] of pieces) {
      if (text.length === 0) continue;
      let node = 0;
      for (let i = 0; i < text.length; i++) {
        const key = node * 65536 + text.charCodeAt(i);
        let child = edges.get(key);
        if (child === undefined) {
          child = ids.length;
          ids.push(-1);
          scores.push(0);
          edges.set(key, child);
        }
        node = child;
      }
      ids[node] = id;
      scores[node] = score;
    }
    this.size = ids.length;
    this.pieceId = Int32Array.from(ids);
    this.pieceScore = Float64Array.from(scores);

    this.rootNext = new Int32Array(65536).fill(NO_NODE);
    let cap = 16;
    while (cap < edges.size * 2) cap <<= 1;
    this.mask = cap - 1;
    this.slotParent = new Int32Array(cap).fill(NO_NODE);
    this.slotUnit = new Int32Array(cap);
    this.slotChild = new Int32Array(cap);
    for (const [key, child] of edges) {
      const parent = Math.floor(key / 65536);
      const unit = key - parent * 65536;
      if (parent === 0) this.rootNext[unit] = child;
      let slot = hash(parent, unit) & this.mask;
      while (this.slotParent[slot] !== NO_NODE) slot = (slot + 1) & this.mask;
      this.slotParent[slot] = parent;
      this.slotUnit[slot] = unit;
      this.slotChild[slot] = child;
    }
  }

  /** The child of `node` along code unit `unit`, or -1. */
  next(node: number, unit: number): number {
    if (node === 0) return this.rootNext[unit];
    const mask = this.mask;
    let slot = hash(node, unit) & mask;
    for (;;) {
      const p = this.slotParent[slot];
      if (p === NO_NODE) return NO_NODE;
      if (p === node && this.slotUnit[slot] === unit) return this.slotChild[slot];
      slot = (slot + 1) & mask;
    }
  }
}

function hash(node: number, unit: number): number {
  const h = Math.imul(node ^ Math.imul(unit, 0x85ebca6b), 0x9e3779b1);
  return h ^ (h >>> 15);
}
