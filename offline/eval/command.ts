// `i3 eval`: one evaluation (a table, or JSON with --json), or a regression run (--regression). Exit 0 done, 1 failed
// (or a regression drifted), 2 bad usage.
import { runCommand, STDIO, type CommandIO } from "../command.ts";
import { EVAL_USAGE, parseEvalArgs } from "./args.ts";
import { formatTable, runEval } from "./eval.ts";
import { runRegressions } from "./regression.ts";

/**
 * `i3 eval ...` (argv: the words after "eval").
 *
 * @example
 * process.exitCode = await runEvalCommand(["--data", "data/scifact", "--index", "build/scifact", "--mode", "hybrid"]);
 */
export async function runEvalCommand(argv: string[], io: CommandIO = STDIO): Promise<number> {
  return runCommand("eval", EVAL_USAGE, argv, io, async () => {
    const a = parseEvalArgs(argv);
    if ("regression" in a) return runRegressions(a, io);
    const r = await runEval(a, io.err);
    io.out(a.json ? JSON.stringify(r, null, 2) : formatTable(r));
  });
}
