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

const BUCKETS = 4096;
const histogram = new Int32Array(BUCKETS); // scratch of topIndices (synchronous: one call at a time)

/**
 * The indices of the `k` highest of `scores`, best first, ties by lower index: what createTopK gives for
 * push(i, scores[i]) over every i whose score beats its threshold (NaN and -Infinity never enter). Found by a
 * histogram of the scores between their min and max (three passes, no heap): the rows above the bucket where the
 * k-th falls and those in it are sorted, the rest never are. For k in the hundreds over tens of thousands of scores.
 *
 * @example
 * const rows = topIndices(scores, 100); // scores[rows[0]] is the highest
 */
export function topIndices(scores: Float32Array, k: number): Uint32Array {
  const n = scores.length;
  let lo = Infinity, hi = -Infinity, valid = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (s > -Infinity) {
      valid++;
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
  }
  if (k <= 0 || valid === 0) return new Uint32Array(0);
  const rows = valid > k ? aboveCut(scores, k, lo, hi > lo ? BUCKETS / (hi - lo) : 0) : validRows(scores, valid);
  sortByScore(scores, rows);
  return rows.length > k ? rows.slice(0, k) : rows;
}

const ROW_SPAN = 2 ** 21; // rows below this sort by one float64 key: 32 bits of score order, 21 of row
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Sorts `rows` (indices into `scores`, none NaN) in place by score descending, then row ascending (-0 ties with 0).
 * By a native sort of one number per row (the score's float32 bits in an order-preserving form, then the row),
 * where rows allow it; else by a comparator.
 */
export function sortByScore(scores: Float32Array, rows: Uint32Array): Uint32Array {
  if (rows.length < 2) return rows;
  if (scores.length > ROW_SPAN) return rows.sort((a, b) => scores[b] - scores[a] || a - b);
  const keys = new Float64Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    f32[0] = scores[rows[j]] + 0; // -0 to 0
    const b = u32[0];
    const order = b >= 0x80000000 ? 0xffffffff - b : b + 0x80000000; // ascending with the score
    keys[j] = (0xffffffff - order) * ROW_SPAN + rows[j];
  }
  keys.sort();
  for (let j = 0; j < rows.length; j++) rows[j] = keys[j] % ROW_SPAN;
  return rows;
}

/** The rows whose score is above -Infinity (there are `valid` of them). */
function validRows(scores: Float32Array, valid: number): Uint32Array {
  const rows = new Uint32Array(valid);
  let m = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i] > -Infinity) rows[m++] = i;
  return rows;
}

/**
 * The rows in the histogram bucket where the k-th highest score falls and above it: bucket floor((s - lo) * scale),
 * at most BUCKETS - 1 (NaN, from an infinite score: 0).
 */
function aboveCut(scores: Float32Array, k: number, lo: number, scale: number): Uint32Array {
  const n = scores.length;
  const top = BUCKETS - 1;
  histogram.fill(0);
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (!(s > -Infinity)) continue;
    const b = (s - lo) * scale;
    histogram[b >= top ? top : b > 0 ? b | 0 : 0]++;
  }
  let cut = top, count = histogram[top];
  while (count < k) count += histogram[--cut];
  const rows = new Uint32Array(count);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (!(s > -Infinity)) continue;
    const b = (s - lo) * scale;
    if ((b >= top ? top : b > 0 ? b | 0 : 0) >= cut) rows[m++] = i;
  }
  return rows;
}
