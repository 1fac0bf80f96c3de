import { FormatError } from "../../src/format/index.ts";

/** The FormatError code `fn` throws, or "no error"; any other error is rethrown. */
export function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof FormatError) return e.code;
    throw e;
  }
  return "no error";
}
