/** Stable error codes of the index format. Callers branch on `code`, never on the message. */
export type FormatErrorCode =
  | "bad_magic"
  | "unsupported_version"
  | "truncated"
  | "checksum_mismatch"
  | "invalid_manifest"
  | "invalid_name"
  | "invalid_pointer"
  | "invalid_object";

/** HTTP status each code maps to when it reaches the worker: a bad name is the caller's fault, the rest a broken index. */
export const FORMAT_ERROR_STATUS: Record<FormatErrorCode, number> = {
  bad_magic: 500,
  unsupported_version: 500,
  truncated: 500,
  checksum_mismatch: 500,
  invalid_manifest: 500,
  invalid_name: 400,
  invalid_pointer: 500,
  invalid_object: 500,
};

/**
 * The one error class of `src/format/`. Messages state what was expected and what was found.
 *
 * @example
 * throw new FormatError("bad_magic", "vector shard: expected magic \"I3VS\", got \"XXXX\"");
 */
export class FormatError extends Error {
  readonly code: FormatErrorCode;

  constructor(code: FormatErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FormatError";
    this.code = code;
  }

  /** The HTTP status this error maps to. */
  get status(): number {
    return FORMAT_ERROR_STATUS[this.code];
  }
}

/** True when `e` is a FormatError, optionally with the given code. */
export function isFormatError(e: unknown, code?: FormatErrorCode): e is FormatError {
  return e instanceof FormatError && (code === undefined || e.code === code);
}
