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

/** Characters of a caller's value that an error message echoes (a name, a field, a header). */
export const ECHO_CHARS = 64;

/** `s` cut to at most `max` characters, with "…" when cut. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

/**
 * A caller's value as an error message echoes it: JSON-escaped, at most `max` characters of it (a longer string says
 * its length), so a message stays short and quotes nothing the caller could not see anyway.
 *
 * @example
 * quoted("x".repeat(5000)) // '"xxxx…xxxx"… (5000 characters)', the first 64 characters quoted
 */
export function quoted(value: unknown, max = ECHO_CHARS): string {
  if (typeof value === "string") {
    return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)`;
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  return clip(json ?? String(value), max);
}
