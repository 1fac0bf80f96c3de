/** A bounded min-heap that keeps the `k` highest-scoring items. Ties keep the item seen first. */
export interface TopK {
  push(id: number, score: number): void;
  /** The k best, highest score first. */
  sorted(): Array<{ id: number; score: number }>;
  /** The score an item must beat to enter (or -Infinity while not full). */
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
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < size && scores[l] < scores[m]) m = l;
      if (r < size && scores[r] < scores[m]) m = r;
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
          if (scores[p] <= scores[i]) break;
          swap(i, p);
          i = p;
        }
      } else if (score > scores[0]) {
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
