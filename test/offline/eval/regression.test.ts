// `i3 eval --regression` on the tiny-fixture regression files (what CI runs): they pass as recorded, a wrong expected
// value fails with exit 1, and bad files, a missing build or missing data are clear errors.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runEvalCommand } from "../../../offline/eval/command.ts";
import { parseRegression } from "../../../offline/eval/regression.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const TINY = ["lexical", "dense", "hybrid"].map((m) => `regressions/beir-tiny.tiny.${m}.json`);
let tmp: string;
let builds: string;

async function regression(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runEvalCommand(["--regression", ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  const lines = out.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { code, lines, err: err.join("\n") };
}

/** A copy of a tiny regression file with some fields replaced. */
async function variant(name: string, change: (spec: Record<string, unknown>) => void): Promise<string> {
  const spec = JSON.parse(await readFile(path.join(ROOT, TINY[2]), "utf8"));
  change(spec);
  const file = path.join(tmp, name);
  await writeFile(file, JSON.stringify(spec));
  return file;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-regression-"));
  builds = path.join(tmp, "build");
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("i3 eval --regression", () => {
  it("the tiny-fixture regressions pass: the build is made when missing, one JSON line per file, a table", async () => {
    const r = await regression(...TINY.flatMap((f, i) => (i ? ["--regression", f] : [f])), "--build-root", builds, "--build");
    expect(r.code, r.err).toBe(0);
    expect(r.lines.map((l) => [l.file, l.ok])).toEqual(TINY.map((f) => [f, true]));
    for (const l of r.lines) expect(Object.keys(l.actual).sort()).toEqual(["MRR@10", "R@100", "R@1000", "nDCG@10"]);
    expect(r.err).toMatch(/building .*beir-tiny-tiny-split/);
    expect(r.err).toMatch(/beir-tiny\.tiny\.dense\.json\s+nDCG@10\s+0\.7535\s+0\.7535\s+[+-]0\.0000\s+0\.0001\s+ok/);
  }, 60_000);

  it("a wrong expected value is a drift: exit 1, the file and metric named", async () => {
    const wrong = await variant("beir-tiny.tiny.wrong.json", (s) => ((s.expected as Record<string, number>)["nDCG@10"] = 0.9));
    const r = await regression(wrong, "--build-root", builds, "--build");
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({ ok: false, drifted: ["nDCG@10"], actual: { "nDCG@10": 1 } });
    expect(r.err).toMatch(/nDCG@10\s+0\.9000\s+1\.0000\s+\+0\.1000\s+0\.0001\s+DRIFT/);
    expect(r.err).toMatch(/1 of 1 regressions failed: .*beir-tiny\.tiny\.wrong\.json/);
  }, 60_000);

  it("the i3 command exits 1 on a drift (a directory of files, run from the repository root)", async () => {
    const dir = path.join(tmp, "dir");
    await mkdir(dir);
    await writeFile(path.join(dir, "ok.json"), await readFile(path.join(ROOT, TINY[0])));
    await writeFile(path.join(dir, "wrong.json"), await readFile(await variant("w2.json", (s) => ((s.expected as Record<string, number>)["R@100"] = 0.5))));
    const r = await promisify(execFile)(path.join(ROOT, "node_modules/.bin/tsx"), ["offline/cli.ts", "eval", "--regression", dir, "--build-root", builds], { cwd: ROOT })
      .then(() => ({ code: 0, stdout: "", stderr: "" }), (e) => e as { code: number; stdout: string; stderr: string });
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => [path.basename(l.file), l.ok])).toEqual([["ok.json", true], ["wrong.json", false]]);
    expect(r.stderr).toMatch(/i3 eval: 1 of 2 regressions failed/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it("a missing build is an error unless --build; bad files name the file", async () => {
    const missing = await regression(TINY[0], "--build-root", path.join(tmp, "nothing-here"));
    expect(missing.code).toBe(1);
    expect(missing.lines[0]).toMatchObject({ ok: false, error: expect.stringMatching(/beir-tiny-tiny-split is missing: rerun with --build, or run: i3 build --corpus/) });
    const extra = await variant("extra.json", (s) => (s.tolerence = 0.1));
    expect((await regression(extra)).err).toMatch(/extra\.json: not a regression file[\s\S]*tolerence/);
    const badEval = await variant("bad-eval.json", (s) => (s.eval = "i3 eval --data x --index y --mode sideways"));
    expect((await regression(badEval)).err).toMatch(/bad-eval\.json: bad eval command: --mode must be one of/);
    const badVar = await variant("bad-var.json", (s) => (s.eval = "i3 eval --data $HOME/x --index y"));
    expect((await regression(badVar)).err).toMatch(/unknown variable \$HOME/);
    expect((await regression(path.join(tmp, "none.json"))).err).toMatch(/regression file or directory not found/);
  });

  it("$I3_DATA without --data-root or I3_DATA is a usage error (exit 2), before anything runs", async () => {
    const saved = process.env.I3_DATA;
    delete process.env.I3_DATA;
    try {
      const r = await regression("regressions/scifact.i3-scifact.hybrid.json");
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/needs the BEIR data sets: pass --data-root <dir> or set I3_DATA/);
      expect(r.lines).toEqual([]);
    } finally {
      if (saved !== undefined) process.env.I3_DATA = saved;
    }
  });

  it("every regression file of the repository is valid, named <set>.<model>.<mode>[-probe-all|-static].json after its command", async () => {
    const { readdirSync } = await import("node:fs");
    const files = readdirSync(path.join(ROOT, "regressions")).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThanOrEqual(15);
    for (const f of files) {
      const spec = parseRegression(f, await readFile(path.join(ROOT, "regressions", f), "utf8"));
      const [set, model, variant] = f.split(".");
      const mode = variant.replace(/-(probe-all|static)$/, "");
      expect(spec.eval, f).toContain(`--mode ${mode}`);
      if (variant.endsWith("-probe-all")) expect(spec.eval, f).toMatch(/--probe \d+$/);
      if (variant.endsWith("-static")) expect(spec.eval, f).toMatch(/ --encoder static( |$)/);
      if (variant === mode) expect(spec.eval, f).not.toMatch(/--probe|--encoder/);
      expect(spec.build, f).toContain(`--out $I3_BUILD/${set}-${model}-split`);
      expect(spec.eval, f).toMatch(/^i3 eval --data \S+ --index \$I3_BUILD\//);
      for (const v of Object.values(spec.expected)) expect(Math.round(v * 1e4) / 1e4, `${f}: 4 decimals`).toBe(v);
    }
  });
});
