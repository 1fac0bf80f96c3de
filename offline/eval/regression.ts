// `i3 eval --regression <file or dir>...`: quality numbers kept as data. A regression file
// (regressions/<set>.<model>.<mode>.json) holds the commands that reproduce a number and the expected metrics:
//
//   { "description": "...",
//     "build": "i3 build --corpus $I3_DATA/scifact --model models/i3-scifact --out $I3_BUILD/scifact-i3-scifact-split",
//     "eval": "i3 eval --data $I3_DATA/scifact --index $I3_BUILD/scifact-i3-scifact-split --mode hybrid --k 100",
//     "expected": { "nDCG@10": 0.7221, "MRR@10": 0.6889, "R@100": 0.9453 }, "tolerance": 0.0005 }
//
// Commands are words separated by spaces (no quoting), run from the repository root; `$I3_DATA` is the folder of the
// BEIR sets (--data-root or env I3_DATA), `$I3_BUILD` the folder of build directories (default build). The eval
// command is rerun; a metric further than `tolerance` from its expected value is a drift (exit 1).
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { runBuildCommand } from "../build/command.ts";
import { UsageError, type CommandIO } from "../command.ts";
import { parseEvalArgs, type EvalArgs, type RegressionArgs } from "./args.ts";
import { runEval } from "./eval.ts";
import { METRICS } from "./metrics.ts";

const Metrics = z.partialRecord(z.enum(METRICS as ["nDCG@10", "MRR@10", "R@100", "R@1000"]), z.number().min(0).max(1));

/** The content of a regression file. */
export const RegressionFile = z.strictObject({
  description: z.string().optional(),
  /** `i3 build ...` that makes the build directory the eval command reads (absent: nothing to build). */
  build: z.string().startsWith("i3 build ").optional(),
  eval: z.string().startsWith("i3 eval "),
  expected: Metrics.refine((m) => Object.keys(m).length > 0, "at least one metric"),
  /** Largest allowed |actual - expected| of each metric. */
  tolerance: z.number().positive().max(0.1),
});
export type RegressionFile = z.infer<typeof RegressionFile>;

export interface Regression {
  file: string;
  spec: RegressionFile;
}

/** The outcome of one file: the metrics it got, or why it could not run. */
export interface RegressionOutcome {
  file: string;
  ok: boolean;
  expected: Record<string, number>;
  tolerance: number;
  /** Every metric the eval computed (only the expected ones are compared). */
  actual?: Record<string, number>;
  drifted?: string[];
  error?: string;
  seconds: number;
}

const VARS = ["I3_DATA", "I3_BUILD"] as const;

/** The regression files of `paths` (a directory means its *.json files, sorted), parsed and checked. */
export function loadRegressions(paths: string[]): Regression[] {
  const files = paths.flatMap((p) => {
    if (!existsSync(p)) throw new Error(`regression file or directory not found: ${p}`);
    if (!statSync(p).isDirectory()) return [p];
    const found = readdirSync(p).filter((f) => f.endsWith(".json")).sort().map((f) => path.join(p, f));
    if (found.length === 0) throw new Error(`${p}: no *.json regression files`);
    return found;
  });
  return files.map((file) => ({ file, spec: parseRegression(file, readFileSync(file, "utf8")) }));
}

/** Parses and validates one regression file's text (errors name the file). */
export function parseRegression(file: string, text: string): RegressionFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  const r = RegressionFile.safeParse(json);
  if (!r.success) throw new Error(`${file}: not a regression file:\n${z.prettifyError(r.error)}`);
  const dummy = { I3_DATA: "data", I3_BUILD: "build" };
  if (r.data.build) outOf(file, commandWords(file, r.data.build, dummy));
  try {
    if ("regression" in parseEvalArgs(commandWords(file, r.data.eval, dummy))) throw new UsageError("it cannot itself be a regression run");
  } catch (e) {
    throw new Error(`${file}: bad eval command: ${(e as Error).message}`);
  }
  return r.data;
}

/** The words after `i3 <command>`, with $I3_DATA and $I3_BUILD replaced. */
export function commandWords(file: string, cmd: string, vars: Record<(typeof VARS)[number], string | undefined>): string[] {
  if (/["'\\`]/.test(cmd)) throw new Error(`${file}: commands are plain words, without quotes or escapes: ${cmd}`);
  return cmd.trim().split(/\s+/).slice(2).map((w) =>
    w.replace(/\$(\w+)/g, (_, name: string) => {
      if (!(VARS as readonly string[]).includes(name)) throw new Error(`${file}: unknown variable $${name} (only ${VARS.map((v) => `$${v}`).join(", ")})`);
      const value = vars[name as (typeof VARS)[number]];
      if (value === undefined) throw new UsageError(`${file} needs the BEIR data sets: pass --data-root <dir> or set I3_DATA (the folder holding scifact/, npl/, ...)`);
      return value.replace(/\/+$/, "");
    }));
}

/** What $I3_DATA and $I3_BUILD stand for. */
function variables(a: RegressionArgs) {
  return { I3_DATA: a.dataRoot ?? process.env.I3_DATA, I3_BUILD: a.buildRoot };
}

/** The value of `--out` in build argv. */
function outOf(file: string, argv: string[]): string {
  const i = argv.findIndex((w) => w === "--out" || w.startsWith("--out="));
  const out = i < 0 ? undefined : argv[i].startsWith("--out=") ? argv[i].slice(6) : argv[i + 1];
  if (!out) throw new Error(`${file}: the build command has no --out`);
  return out;
}

/** Makes the build directory when it is missing (with --build), else explains how. */
async function ensureBuild(r: Regression, a: RegressionArgs, io: CommandIO): Promise<void> {
  if (!r.spec.build) return;
  const argv = commandWords(r.file, r.spec.build, variables(a));
  const out = outOf(r.file, argv);
  if (existsSync(path.join(out, "manifest.json"))) return;
  if (!a.build) throw new Error(`${out} is missing: rerun with --build, or run: i3 build ${argv.join(" ")}`);
  io.err(`regression ${r.file}: building ${out}`);
  const code = await runBuildCommand(argv, io);
  if (code !== 0) throw new Error(`building ${out} failed (exit ${code})`);
}

/** Runs one regression: its build when needed, its eval, and the comparison. */
export async function runRegression(r: Regression, a: RegressionArgs, io: CommandIO): Promise<RegressionOutcome> {
  const t0 = performance.now();
  const vars = variables(a);
  const base = { file: r.file, expected: r.spec.expected as Record<string, number>, tolerance: r.spec.tolerance };
  try {
    await ensureBuild(r, a, io);
    const result = await runEval(parseEvalArgs(commandWords(r.file, r.spec.eval, vars)) as EvalArgs, io.err);
    const actual = result.metrics;
    const drifted = Object.keys(base.expected).filter((m) => !(Math.abs(actual[m] - base.expected[m]) <= r.spec.tolerance + 1e-12));
    return { ...base, ok: drifted.length === 0, actual, drifted, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    return { ...base, ok: false, error: (e as Error).message, seconds: (performance.now() - t0) / 1000 };
  }
}

/**
 * Runs every regression of `a.regression`: one JSON line per file on `io.out` as each finishes, then the table on
 * `io.err`. Throws (exit 1) when any drifted or failed.
 */
export async function runRegressions(a: RegressionArgs, io: CommandIO): Promise<RegressionOutcome[]> {
  const regressions = loadRegressions(a.regression);
  // A missing data root is a usage error, found before anything runs.
  for (const r of regressions) for (const cmd of [r.spec.build, r.spec.eval]) if (cmd) commandWords(r.file, cmd, variables(a));
  const outcomes: RegressionOutcome[] = [];
  for (const r of regressions) {
    const o = await runRegression(r, a, io);
    outcomes.push(o);
    io.out(JSON.stringify(o));
  }
  io.err(formatRegressionTable(outcomes));
  const bad = outcomes.filter((o) => !o.ok);
  if (bad.length) throw new Error(`${bad.length} of ${outcomes.length} regressions failed: ${bad.map((o) => o.file).join(", ")}`);
  return outcomes;
}

/** One row per file and metric: expected, actual, difference, tolerance and the verdict. */
export function formatRegressionTable(outcomes: RegressionOutcome[]): string {
  const rows = [["file", "metric", "expected", "actual", "diff", "tolerance", "result"]];
  for (const o of outcomes) {
    const name = path.basename(o.file);
    if (o.error !== undefined) {
      rows.push([name, "-", "-", "-", "-", String(o.tolerance), `ERROR: ${o.error.split("\n")[0]}`]);
      continue;
    }
    for (const [m, want] of Object.entries(o.expected)) {
      const got = o.actual![m];
      const d = (got - want).toFixed(4);
      rows.push([name, m, want.toFixed(4), got.toFixed(4), d.startsWith("-") && d !== "-0.0000" ? d : `+${d.replace("-", "")}`, String(o.tolerance), o.drifted!.includes(m) ? "DRIFT" : "ok"]);
    }
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join("  ")).join("\n");
}
