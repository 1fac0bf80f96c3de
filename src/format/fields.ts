// Zod schemas of the field types the format's JSON documents share. Each carries the words of what it expects
// ("an integer in 0..4294967295"), which `parseJson` puts into the error message with the path and what it got.
import * as z from "zod";

/** Largest u32: counts, ids and ordinals the binary objects store in 4 bytes. */
export const U32 = 0xffffffff;

/** An integer in `min..max`. */
export function int(min = 0, max = Number.MAX_SAFE_INTEGER) {
  const error = `an integer in ${min}..${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/** A finite number, at least `min` (and at most `max` when given). */
export function num(min: number, max?: number) {
  const error = max === undefined ? `a finite number >= ${min}` : `a number in ${min}..${max}`;
  const n = z.number({ error }).min(min, { error });
  return max === undefined ? n : n.max(max, { error });
}

/** A non-empty string. */
export const nonEmpty = z.string({ error: "a non-empty string" }).min(1, { error: "a non-empty string" });

/** A string matching `re`; the message reads "<expected> matching <re>". */
export function matching(re: RegExp, expected = "a non-empty string") {
  const error = `${expected} matching ${re}`;
  return z.string({ error }).regex(re, { error });
}

/** Lower-case hex SHA-256. */
export const sha256Field = matching(/^[0-9a-f]{64}$/, "64 lower-case hex");

/** A time `Date.parse` reads (ISO 8601). */
export const isoTime = z.string({ error: "an ISO 8601 time" }).refine((s) => !Number.isNaN(Date.parse(s)), { error: "an ISO 8601 time" });

/**
 * Reports a rule a refinement checks across fields: at `path` (relative to the refined value), `expected`, got
 * `input`.
 *
 * @example
 * z.object({ a: int(), b: int() }).superRefine((v, ctx) => v.b < v.a && reject(ctx, ["b"], `at least ${v.a}`, v.b));
 */
export function reject(ctx: z.RefinementCtx, path: PropertyKey[], expected: string, input: unknown): void {
  ctx.addIssue({ code: "custom", path, message: expected, input });
}
