// The one bounded-concurrency loop of the offline side (object verification, uploads, version listing). No I/O of
// its own, no Node APIs. (The worker bounds its reads per request in src/worker/store/storage.ts.)

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first error after the in-flight
 * calls settle (no new ones start once one has failed).
 *
 * @example
 * await forEachLimit(objects, 4, (o) => upload(o));
 */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
}
