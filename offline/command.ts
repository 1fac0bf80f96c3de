// The one CLI convention of the `i3` command and its subcommands: flags parsed by `node:util` parseArgs (strict: an
// unknown flag is a usage error), and one runner that maps the outcome to an exit code. 0: done; 2: bad usage (the
// message, then the usage text); 1: anything else failed (a message for a person, no stack trace unless --verbose).
// No heavy imports: commands load onnxruntime lazily, so `i3 publish` never loads it.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CodedError } from "../src/errors.ts";

/** A bad command line: unknown flag, missing or malformed value. Exits 2 with the usage text. */
export class UsageError extends CodedError<"usage"> {
  constructor(message: string, options?: { cause?: unknown }) {
    super("usage", message, options);
  }
}

/** Where a command writes: `err` for progress and errors (stderr), `out` for results (stdout). */
export interface CommandIO {
  err: (line: string) => void;
  out: (line: string) => void;
}

export const STDIO: CommandIO = { err: (l) => console.error(l), out: (l) => console.log(l) };

export type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** Strict parseArgs over `argv` (positionals allowed); a parse failure is a UsageError. */
export function parseFlags<O extends FlagOptions>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `--name` as an integer >= min, or undefined when absent. */
export function intFlag(name: string, v: string | boolean | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const n = Number(s);
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(s)}`);
  return n;
}

/** `--name` as a finite number within [min, max], or undefined when absent. */
export function numberFlag(name: string, v: string | boolean | undefined, min = -Infinity, max = Infinity): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  const n = Number(s);
  if (s.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number${Number.isFinite(min) ? ` >= ${min}` : ""}${Number.isFinite(max) ? ` and <= ${max}` : ""}, got ${JSON.stringify(s)}`);
  }
  return n;
}

/** `--name` as one of `choices`, or undefined when absent. */
export function choiceFlag<T extends string>(name: string, v: string | boolean | undefined, choices: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (!choices.includes(v as T)) throw new UsageError(`--${name} must be one of ${choices.join(", ")}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** A required flag's value. */
export function required<T>(name: string, v: T | undefined): T {
  if (v === undefined || v === "") throw new UsageError(`--${name} is required`);
  return v;
}

/**
 * Runs a command body and returns its exit code: 0 when it resolves, 2 with the usage text on a UsageError, 1 with
 * the message on any other error (the stack with `--verbose` in argv).
 *
 * @example
 * return runCommand("defaults", USAGE, argv, io, async () => { ... });
 */
export async function runCommand(name: string, usage: string, argv: string[], io: CommandIO, fn: () => Promise<unknown>): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(usage);
    return 0;
  }
  try {
    await fn();
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`i3 ${name}: ${e.message}\n\n${usage}`);
      return 2;
    }
    const err = e as Error;
    io.err(`i3 ${name}: ${argv.includes("--verbose") ? (err.stack ?? String(e)) : (err.message ?? String(e))}`);
    return 1;
  }
}
