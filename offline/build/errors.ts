// The error of the offline build layer (build, merge, defaults): a stable code and a message meant for a person.
// The CLI prints the message (no stack trace unless --verbose) and exits 1; bad usage is offline/command.ts's
// UsageError (exit 2).
import { CodedError } from "../../src/errors.ts";

export type BuildErrorCode =
  | "invalid_corpus" // a corpus line that cannot be indexed; the message names file and line
  | "invalid_model" // model directory, sidecar or files unusable
  | "resume_mismatch" // <out>.partial was started with other arguments
  | "output_exists" // <out> exists and --force was not given
  | "invalid_build" // a build directory fails verification (bad manifest, missing or corrupt object)
  | "merge_mismatch"; // merge inputs disagree (model, params, slices)

export class BuildError extends CodedError<BuildErrorCode> {}

export function isBuildError(e: unknown): e is BuildError {
  return e instanceof BuildError;
}
