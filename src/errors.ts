/**
 * The one coded error base of the project. Every domain error (the index format's, the build's, publishing's, the
 * worker's HTTP errors) is a `CodedError` with a stable `code` that callers branch on, and a message for a person
 * that says what was expected and what was found. Runtime-neutral: no I/O, no Node or Workers APIs.
 *
 * @example
 * class FormatError extends CodedError<"bad_magic" | "truncated"> {}
 * throw new FormatError("bad_magic", 'vector shard: expected magic "I3VS", got "XXXX"');
 */
export class CodedError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True when `e` is a `CodedError` (any subclass), optionally with the given code. */
export function isCodedError(e: unknown, code?: string): e is CodedError {
  return e instanceof CodedError && (code === undefined || e.code === code);
}
