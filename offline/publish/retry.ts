// Retries for the HTTP publish targets (S3 API, worker admin routes): no Node APIs, so it also loads in workerd.
import { PublishError } from "./target.ts";

export interface RetryOptions {
  /** What is being done, for the error message (e.g. `PUT <key>`). */
  what: string;
  attempts: number;
  retryBaseMs: number;
  /** Turns a failed response into a short text (each target's error body format differs). */
  errorText: (res: Response) => Promise<string>;
}

/**
 * Sends a request until it answers below 500 and not 429, with exponential backoff and jitter between
 * attempts; then gives up with PublishError("network"). Any other status is returned for the caller to map.
 */
export async function fetchWithRetry(send: () => Promise<Response>, o: RetryOptions): Promise<Response> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    try {
      const res = await send();
      if (res.status < 500 && res.status !== 429) return res;
      lastError = new Error(`HTTP ${res.status}: ${await o.errorText(res)}`);
    } catch (e) {
      lastError = e;
    }
    if (attempt < o.attempts) await sleep(o.retryBaseMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
  }
  throw new PublishError("network", `${o.what}: failed after ${o.attempts} attempts: ${String(lastError)}`, {
    cause: lastError,
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
