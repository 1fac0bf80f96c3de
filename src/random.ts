// A small seeded PRNG (mulberry32): deterministic k-means seeding and sampling, benchmark data, test data and
// fixture generators all draw from it, so a seed reproduces them. Not for secrets (keys use crypto.getRandomValues).

/**
 * Uniform numbers in [0, 1) from a 32-bit seed.
 *
 * @example
 * const random = rng(42);
 * const x = random();
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
