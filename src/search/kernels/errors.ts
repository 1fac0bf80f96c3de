import { CodedError } from "../../errors";

/** Why a kernel or arena call was refused. */
export type KernelErrorCode = "arena_full" | "bad_size" | "bad_free" | "out_of_bounds" | "bad_dims" | "released";

/**
 * A refused kernel or arena call: the arena's cap is reached (`arena_full`), a size or offset is not what the
 * arena handed out, a block lies outside memory, or the query's dims do not match.
 */
export class KernelError extends CodedError<KernelErrorCode> {}
