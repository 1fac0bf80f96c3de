// What the registry remembers of a version (or a pointer) that could not be loaded, and when it tries it again.
// Without it every request, or every pointer refresh while a good version serves, would download the failed version
// again. The back-off is exponential and capped, and depends on the kind of failure:
// - transient (an R2 error, timeout or short body (FormatError `unreadable`), anything that is not the bytes' fault):
//   first retry after 2 s (`LOAD_RETRY_MS`), doubling up to 30 times that, so a blip costs seconds of a stale version (or of 503s when nothing is cached), never minutes;
// - permanent (a FormatError, such as a checksum mismatch, a model onnxruntime rejects or an encoder output of the
//   wrong size; or an index over this isolate's limits): a version's objects are immutable, so retrying only helps
//   after someone re-uploads an object: first retry after 60 s, doubling up to 1 h. Publishing a new version moves the
//   pointer, and a new version is always tried at once (the pointer is still read every POINTER_TTL_MS).
// A pointer that cannot be read is mutable and small: always the transient schedule.
import { CodedError } from "../../errors";
import { FormatError } from "../../format";

/**
 * A flat index whose shards exceed its share of the isolate cache (a quarter of it): refused, never loaded. Every
 * search of a flat index scans all its shards, so one that does not stay resident would be read again on every query
 * and, with a second such index, the two would evict each other on every pair of searches. Build it partitioned.
 */
export class IndexTooLargeError extends CodedError<"index_too_large"> {}

export type FailureKind = "transient" | "permanent";

/** First delay and cap (ms) of each kind's back-off. */
export const BACKOFF: Record<FailureKind, { firstMs: number; maxMs: number }> = {
  transient: { firstMs: 2_000, maxMs: 60_000 },
  permanent: { firstMs: 60_000, maxMs: 3_600_000 },
};

export interface LoadFailure {
  /** The version that failed to load, or null: the pointer could not be read. */
  version: string | null;
  kind: FailureKind;
  /** Consecutive failures of this version. */
  attempts: number;
  /** Not tried again before this time (ms). */
  retryAt: number;
  /** What a request gets while nothing good is cached. */
  code: "index_unavailable" | "index_too_large";
}

/** Transient unless the bytes (or the index's size) are at fault. */
export function failureKind(e: unknown): FailureKind {
  if (e instanceof FormatError) return e.code === "unreadable" ? "transient" : "permanent";
  return e instanceof IndexTooLargeError ? "permanent" : "transient";
}

/** The back-off with transient failures first retried after `firstMs` (LOAD_RETRY_MS), up to 30 times that. */
export function backoffWith(transientFirstMs: number): typeof BACKOFF {
  return { ...BACKOFF, transient: { firstMs: transientFirstMs, maxMs: 30 * transientFirstMs } };
}

/**
 * The failure after one more failed attempt at `version` (null: the pointer): the count goes on from `prev` when it
 * was the same version, else starts at 1.
 *
 * @example
 * const f = nextFailure(null, "v-abc", new FormatError("checksum_mismatch", "..."), 0); // retryAt 60_000
 */
export function nextFailure(prev: LoadFailure | null, version: string | null, e: unknown, now: number, backoff = BACKOFF): LoadFailure {
  const kind = version === null ? "transient" : failureKind(e);
  const attempts = prev && prev.version === version ? prev.attempts + 1 : 1;
  const { firstMs, maxMs } = backoff[kind];
  const delay = Math.min(maxMs, firstMs * 2 ** Math.min(attempts - 1, 30));
  return { version, kind, attempts, retryAt: now + delay, code: e instanceof IndexTooLargeError ? "index_too_large" : "index_unavailable" };
}
