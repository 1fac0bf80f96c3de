// The one retry loop of the offline side: the HTTP storage targets (S3 API, worker admin routes), the smoke search
// after a publish. No Node APIs: it also loads inside workerd.

/** What one attempt came to: `done` stops with a value; `again` asks for another attempt and says why. */
export type Attempt<T> = { done: T } | { again: unknown };

export interface RetryPolicy {
  /** Attempts in all (at least 1 is made). */
  attempts: number;
  /** No attempt starts once this many ms have passed since the first one. */
  deadlineMs?: number;
  /** Pause before attempt `n + 1` (n from 1). */
  delayMs: (n: number) => number;
}

/** What `retry` returns: the value of the attempt that was done, or the last reason to try again. */
export type RetryResult<T> = { ok: true; value: T } | { ok: false; attempts: number; last: unknown };

/** Exponential backoff from `baseMs`, with jitter (x0.5 to x1.5) so concurrent clients spread out. */
export const backoff = (baseMs: number) => (n: number) => baseMs * 2 ** (n - 1) * (0.5 + Math.random());

/**
 * Runs `attempt` until it is done, the attempts run out or the deadline passes. An error thrown by `attempt` is not
 * retried: it propagates (an attempt catches what it wants retried and answers `again`).
 *
 * @example
 * const r = await retry(async () => ((await ping()) ? { done: true } : { again: "not yet" }), { attempts: 5, delayMs: backoff(100) });
 */
export async function retry<T>(attempt: (n: number) => Promise<Attempt<T>>, policy: RetryPolicy): Promise<RetryResult<T>> {
  const start = Date.now();
  let last: unknown;
  for (let n = 1; ; n++) {
    const a = await attempt(n);
    if ("done" in a) return { ok: true, value: a.done };
    last = a.again;
    const late = policy.deadlineMs !== undefined && Date.now() - start >= policy.deadlineMs;
    if (n >= policy.attempts || late) return { ok: false, attempts: n, last };
    await new Promise((r) => setTimeout(r, policy.delayMs(n)));
  }
}
