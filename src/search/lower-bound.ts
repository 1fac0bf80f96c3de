// Binary search over ascending unsigned arrays (doc ordinals, block ends): the one implementation the search code uses.

/**
 * The first index i with a[i] >= x (a ascending); a.length when there is none.
 *
 * @example
 * const i = lowerBound(ordinals, doc); // ordinals[i] === doc when doc is there
 */
export function lowerBound(a: Uint32Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
