// The narrow storage interface `publish`, `versions`, `gc` and `keys` go through, and its one error class. Three
// implementations: `createLocalR2Target` (the miniflare state `wrangler dev` reads), `createS3Target` (R2's S3 API)
// and `createWorkerTarget` (the worker's admin routes); `openTarget` (target-flags.ts) picks one from `--to`.
import { CodedError } from "../../src/errors.ts";

/** Options of a `put`. At most one of `ifMatch` / `ifNoneMatch` is given. */
export interface PutOptions {
  contentType?: string;
  /** Write only if the key exists with this etag; else `PublishError("precondition_failed")`. */
  ifMatch?: string;
  /** `"*"`: write only if the key does not exist; else `PublishError("precondition_failed")`. */
  ifNoneMatch?: "*";
  /**
   * The bytes' SHA-256 (hex), already known (verified): the store checks it and refuses other bytes with
   * `PublishError("invalid_build")`; the target does not hash them itself.
   */
  sha256?: string;
}

/**
 * A bucket, seen through the five calls publishing needs. Etags are opaque strings compared as returned by
 * the same target (quotes included or not, consistently).
 *
 * @example
 * const t: PublishTarget = createS3Target(s3ConfigFromEnv());
 * await t.put("a/b", bytes, { ifNoneMatch: "*" });
 */
export interface PublishTarget {
  /** A short description for logs, e.g. `s3 https://…/i3-indexes` or `local /repo/.wrangler/state`. */
  readonly describe: string;
  /** `uploaded`: when the object was written, where the store says (gc keeps young unreferenced objects). */
  head(key: string): Promise<{ size: number; etag: string; uploaded?: Date } | null>;
  put(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<{ etag: string }>;
  get(key: string): Promise<{ bytes: Uint8Array; etag: string } | null>;
  list(prefix: string): AsyncIterable<string>;
  delete(key: string): Promise<void>;
  /** Releases what the target holds (a miniflare instance); a no-op for S3. */
  close?(): Promise<void>;
}

/** Stable codes of publishing errors. Callers branch on `code`, never on the message. */
export type PublishErrorCode =
  | "precondition_failed"
  | "conflict"
  | "not_found"
  | "network"
  | "auth"
  | "invalid_build"
  | "invalid_name"
  | "config"
  | "storage";

/**
 * The one error class of `offline/publish/`.
 *
 * @example
 * throw new PublishError("invalid_build", "objects/ab.bin: expected 10 bytes, got 9");
 */
export class PublishError extends CodedError<PublishErrorCode> {}

/** True when `e` is a PublishError, optionally with the given code. */
export function isPublishError(e: unknown, code?: PublishErrorCode): e is PublishError {
  return e instanceof PublishError && (code === undefined || e.code === code);
}
