// One error class for the offline build layer (build, merge): a stable code and a message meant for a person.
// The CLI prints the message (no stack trace unless --verbose) and exits 1; `usage` errors exit 2.

export type BuildErrorCode =
  | "usage" // bad command line: unknown flag, bad value (exit 2)
  | "invalid_corpus" // a corpus line that cannot be indexed; the message names file and line
  | "invalid_model" // model directory, sidecar or files unusable
  | "resume_mismatch" // <out>.partial was started with other arguments
  | "output_exists" // <out> exists and --force was not given
  | "invalid_build" // a build directory fails verification (bad manifest, missing or corrupt object)
  | "merge_mismatch"; // merge inputs disagree (model, params, slices)

export class BuildError extends Error {
  readonly code: BuildErrorCode;
  constructor(code: BuildErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BuildError";
    this.code = code;
  }
}

export function isBuildError(e: unknown): e is BuildError {
  return e instanceof BuildError;
}
