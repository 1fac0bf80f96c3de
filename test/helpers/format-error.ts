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

/** The FormatError `fn` throws as `{ code, message }`, or code "no error"; any other error is rethrown. */
export function failure(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof FormatError) return { code: e.code, message: e.message };
    throw e;
  }
  return { code: "no error", message: "" };
}
