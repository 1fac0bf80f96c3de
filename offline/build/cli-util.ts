// Helpers shared by the `i3 build`, `i3 merge` and `i3 defaults` front ends: argv parsing, integer flags, and the
// exit-code convention (0 done, 1 failed, 2 bad usage). No heavy imports: `i3 defaults` must not load onnxruntime.
import { parseArgs } from "node:util";
import { BuildError, isBuildError } from "./errors.ts";

export interface CommandIO {
  err: (line: string) => void;
  /** Results (stdout); commands that print only progress and errors leave it unused. */
  out?: (line: string) => void;
}

export function intOpt(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new BuildError("usage", `--${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** Runs a command body; maps a usage error to exit 2 with the usage text, any other error to exit 1. */
export async function run(name: string, usage: string, io: CommandIO, verbose: boolean, fn: () => Promise<unknown>): Promise<number> {
  try {
    await fn();
    return 0;
  } catch (e) {
    if (isBuildError(e) && e.code === "usage") {
      io.err(`i3 ${name}: ${e.message}\n\n${usage}`);
      return 2;
    }
    io.err(`i3 ${name}: ${verbose ? ((e as Error).stack ?? String(e)) : ((e as Error).message ?? String(e))}`);
    return 1;
  }
}

export function parse(argv: string[], options: NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>["options"]>) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new BuildError("usage", (e as Error).message);
  }
}
