/**
 * A bounded min-heap that keeps the `k` highest-scoring items. Ties: the lower id, whatever the order of the pushes,
 * so the k kept are always the first k of the order (score descending, id ascending) and a smaller k gives a prefix
 * of a larger one's list (pages of a ranking agree).
 */
export interface TopK {
  push(id: number, score: number): void;
  /** The k best, highest score first. */
  sorted(): Array<{ id: number; score: number }>;
  /** The score an item must beat to enter (or -Infinity while not full; one equal to it enters with a lower id). */
  threshold(): number;
}

export function createTopK(k: number): TopK {
  const ids = new Float64Array(k); // ids up to 2^53 (callers pack shard and row into one id)
  const scores = new Float64Array(k);
  let size = 0;

  const swap = (a: number, b: number) => {
    const ti = ids[a]; ids[a] = ids[b]; ids[b] = ti;
    const ts = scores[a]; scores[a] = scores[b]; scores[b] = ts;
  };
  // a ranks below b: a lower score, or the same score and a higher id. The root ranks below every other item.
  const below = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && ids[a] > ids[b]);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < size && below(l, m)) m = l;
      if (r < size && below(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };

  return {
    push(id, score) {
      if (k === 0) return;
      if (size < k) {
        let i = size++;
        ids[i] = id; scores[i] = score;
        while (i > 0) {
          const p = (i - 1) >> 1;
          if (!below(i, p)) break;
          swap(i, p);
          i = p;
        }
      } else if (score > scores[0] || (score === scores[0] && id < ids[0])) {
        ids[0] = id; scores[0] = score;
        siftDown(0);
      }
    },
    threshold: () => (size < k ? -Infinity : scores[0]),
    sorted() {
      const out = [];
      for (let i = 0; i < size; i++) out.push({ id: ids[i], score: scores[i] });
      return out.sort((a, b) => b.score - a.score || a.id - b.id);
    },
  };
}
