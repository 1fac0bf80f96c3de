// The CI workflows run shell steps next to the R2 secrets: a workflow input must reach the shell only as an
// environment variable (quoted, checked first), never interpolated into the script by `${{ }}`, where a crafted input
// (`"; curl … $R2_SECRET_ACCESS_KEY`) would run as a command.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const dir = resolve(import.meta.dirname, "../../../.github/workflows");
const workflows = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

type Step = { name?: string; id?: string; run?: string; env?: Record<string, string> };
type Workflow = { jobs: Record<string, { env?: Record<string, string>; steps: Step[] }> };
const load = (file: string) => parse(readFileSync(join(dir, file), "utf8")) as Workflow;

describe("workflows", () => {
  it("there are workflows to check", () => {
    expect(workflows).toContain("publish-index.yml");
  });

  it.each(workflows)("%s: no ${{ }} expression inside any run: step", (file) => {
    const runs = Object.values(load(file).jobs).flatMap((j) => j.steps.filter((s) => s.run !== undefined));
    expect(runs.length).toBeGreaterThan(0);
    for (const s of runs) expect(s.run, `${file}: step ${s.name ?? s.run}`).not.toContain("${{");
  });

  it.each(workflows)("%s: every input passed through env is checked by the first step", (file) => {
    for (const job of Object.values(load(file).jobs)) {
      const fromInputs = Object.entries(job.env ?? {}).filter(([, v]) => /\$\{\{\s*inputs\./.test(String(v))).map(([k]) => k);
      if (fromInputs.length === 0) continue;
      const check = job.steps[0];
      expect(check.id).toBe("inputs");
      for (const name of fromInputs) expect(check.run, `${file}: ${name} is not checked`).toMatch(new RegExp(`"\\$${name}" =~`));
    }
  });

  it("publish-index runs on a push that changes the demo corpus as well as on demand, with the shipped default model", () => {
    const w = parse(readFileSync(join(dir, "publish-index.yml"), "utf8")) as { on: { push: { paths: string[] }; workflow_dispatch: { inputs: Record<string, { default?: string }> } } };
    expect(w.on.push.paths).toContain("data/demo/scifact/corpus.jsonl");
    expect(w.on.workflow_dispatch.inputs.model.default).toBe(""); // empty: i3 build's default, models/default.json
    const build = (load("publish-index.yml").jobs.publish.steps.find((st) => st.name === "Build")?.run ?? "");
    expect(build).toContain('${MODEL:+--model "$MODEL"}');
    expect(build).not.toContain("use-lite");
  });

  it("publish-index updates the live version incrementally, and builds in full when it cannot", () => {
    const w = load("publish-index.yml");
    const build = w.jobs.publish.steps.find((st) => st.name === "Build")?.run ?? "";
    expect(build).toContain('i3 -- pull --tenant "$TENANT" --index "$INDEX" --out build/live --to s3');
    expect(build).toContain('i3 -- build --base build/live --corpus "$CORPUS/corpus.jsonl"');
    expect(build).toContain('--compact-above "$COMPACT_ABOVE"');
    expect(build).toMatch(/code == 2 .*full/);
    const publish = w.jobs.publish.steps.find((st) => st.name === "Gate, publish, smoke test")?.run ?? "";
    expect(publish).toContain("publish build/ci");
  });
});
