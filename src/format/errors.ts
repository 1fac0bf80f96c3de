import { CodedError } from "../errors.ts";

/** Stable error codes of the index format. Callers branch on `code`, never on the message. */
export type FormatErrorCode =
  | "bad_magic"
  | "unsupported_version"
  | "truncated"
  | "checksum_mismatch"
  | "invalid_manifest"
  | "invalid_name"
  | "invalid_pointer"
  | "invalid_object"
  | "invalid_key_record"
  /** The store failed to return an object (an R2 or network error): not known to be corrupt. */
  | "unreadable";

/**
 * The error of `src/format/`. Messages state what was expected and what was found. The worker maps it to HTTP in
 * one place (`src/worker/http-error.ts`): a bad name is the caller's fault (400), the rest a broken index (503).
 *
 * @example
 * throw new FormatError("bad_magic", "vector shard: expected magic \"I3VS\", got \"XXXX\"");
 */
export class FormatError extends CodedError<FormatErrorCode> {}

/** True when `e` is a FormatError, optionally with the given code. */
export function isFormatError(e: unknown, code?: FormatErrorCode): e is FormatError {
  return e instanceof FormatError && (code === undefined || e.code === code);
}
