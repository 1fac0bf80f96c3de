import { CodedError } from "../../errors";

/** Why a kernel or arena call was refused. */
export type KernelErrorCode = "arena_full" | "bad_size" | "bad_free" | "out_of_bounds" | "released";

/**
 * A refused kernel or arena call: the arena's cap is reached (`arena_full`), a size is not a byte count
 * (`bad_size`), an offset is not a live allocation (`bad_free`), a block or row lies outside memory or its block
 * (`out_of_bounds`), or a prepared query is used after `release` (`released`).
 */
export class KernelError extends CodedError<KernelErrorCode> {}
