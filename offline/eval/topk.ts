/** Top-k selection with a binary min-heap: O(n log k). Returns indices sorted by score descending. */
export function topK(scores: ArrayLike<number>, k: number, candidates?: ArrayLike<number>): Int32Array {
  const n = candidates ? candidates.length : scores.length;
  const cap = Math.min(k, n);
  if (cap <= 0) return new Int32Array(0);
  const heap = new Int32Array(cap); // doc indices; heap[0] has the smallest score
  let size = 0;
  const less = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) return;
      const r = l + 1;
      const m = r < size && less(heap[r], heap[l]) ? r : l;
      if (!less(heap[m], heap[i])) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      i = m;
    }
  };
  for (let j = 0; j < n; j++) {
    const d = candidates ? candidates[j] : j;
    if (size < cap) {
      let i = size++;
      heap[i] = d;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!less(heap[i], heap[p])) break;
        const t = heap[i];
        heap[i] = heap[p];
        heap[p] = t;
        i = p;
      }
    } else if (less(heap[0], d)) {
      heap[0] = d;
      siftDown(0);
    }
  }
  const out = new Int32Array(size);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = heap[0];
    heap[0] = heap[--size];
    siftDown(0);
  }
  return out;
}
