// `i3 tune-fusion --pseudo` end to end on the tiny BEIR fixture (real builds, onnxruntime-node): it measures the
// statistic from the index alone, turns it into a weight by the model's anchor, prints or applies it; bad input exits
// 2 (usage) or 1 (with a message and no stack).
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex } from "../../../offline/build/build.ts";
import { runBuildCommand } from "../../../offline/build/command.ts";
import { openIndex } from "../../../offline/eval/index-search.ts";
import { pseudoStatistic } from "../../../offline/eval/pseudo-statistic.ts";
import { runTuneFusionCommand } from "../../../offline/eval/tune-fusion.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const BEIR = path.join(ROOT, "test/fixtures/beir-tiny");
let tmp: string, model: string, index: string, noLexical: string;

async function tune(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runTuneFusionCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The fixture model with `pseudoFusion` set to `anchor` (or removed). */
async function withAnchor(anchor: unknown): Promise<void> {
  const sidecar = JSON.parse(await readFile(path.join(BEIR, "model/model.json"), "utf8"));
  await writeFile(path.join(model, "model.json"), JSON.stringify({ ...sidecar, pseudoFusion: anchor }));
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-pseudo-"));
  model = path.join(tmp, "model");
  await cp(path.join(BEIR, "model"), model, { recursive: true });
  index = path.join(tmp, "index");
  noLexical = path.join(tmp, "no-lexical");
  const quiet = { write: () => true };
  await buildIndex({ corpus: path.join(BEIR, "corpus.jsonl"), model, out: index, device: "cpu", stderr: quiet });
  await buildIndex({ corpus: path.join(BEIR, "corpus.jsonl"), model, out: noLexical, device: "cpu", stderr: quiet, lexical: false });
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("tune-fusion --pseudo", () => {
  it("measures both sides on spans of the corpus's own documents", async () => {
    const s = await pseudoStatistic(await openIndex(index));
    // Four documents, each shorter than a span: each pseudo-query is a whole document, which BM25 ranks first.
    expect(s.queries).toBe(4);
    expect(s.lexicalMrr).toBe(1);
    expect(s.denseMrr).toBeGreaterThan(0);
    expect(s.denseMrr).toBeLessThanOrEqual(1);
  }, 60_000);

  it("prints the statistic, the anchor's weight scaled by the ratio and the line that applies it; --apply writes it", async () => {
    const s = await pseudoStatistic(await openIndex(index));
    const ratio = s.denseMrr / s.lexicalMrr;
    // An anchor ratio twice the corpus's: half the anchor weight.
    await withAnchor({ weight: 0.6, normalization: "minmax", ratio: 2 * ratio });
    const r = await tune("--pseudo", "--index", index, "--model", model);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`4 pseudo-queries .*dense ${s.denseMrr.toFixed(4)}, lexical 1\\.0000, ratio ${ratio.toFixed(4)}`));
    expect(r.out).toMatch(/factor 0\.5000 -> weight 0\.3$/m);
    expect(r.out).toContain(`apply it: npm run i3 -- defaults ${index} --fusion weighted --fusion-weight 0.3 --fusion-normalization minmax`);
    expect((await openIndex(index)).manifest.lexical!.fusion.weight).not.toBe(0.3);

    const applied = await tune("--pseudo", "--index", index, "--model", model, "--apply");
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toMatch(/applied: .* now fuses weighted 0\.3 minmax/);
    expect((await openIndex(index)).manifest.lexical!.fusion).toMatchObject({ mode: "weighted", weight: 0.3, normalization: "minmax" });
  }, 60_000);

  it("without an anchor prints the ratio (what an anchor records) and refuses --apply", async () => {
    await withAnchor(undefined);
    const r = await tune("--pseudo", "--index", index, "--model", model);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/records no "pseudoFusion" anchor/);
    const two = await tune("--pseudo", "--index", index, "--model", model, "--queries", "2");
    expect(two.out).toMatch(/: 2 pseudo-queries \(12-24 words of random documents\)/);
    const apply = await tune("--pseudo", "--index", index, "--model", model, "--apply");
    expect(apply.code).toBe(1);
    expect(apply.err).toMatch(/records no "pseudoFusion" anchor, so there is no weight to apply/);
  }, 60_000);

  it("i3 build adapts the weight for a model with an anchor; a flag that fixes the fusion, or a slice, keeps it", async () => {
    const s = await pseudoStatistic(await openIndex(index));
    await withAnchor({ weight: 0.6, normalization: "tmm", ratio: 4 * (s.denseMrr / s.lexicalMrr) });
    const build = async (name: string, ...flags: string[]) => {
      const err: string[] = [];
      const out = path.join(tmp, name);
      const code = await runBuildCommand(["--corpus", path.join(BEIR, "corpus.jsonl"), "--model", model, "--out", out, "--device", "cpu", ...flags], { out: () => {}, err: (l) => err.push(l) });
      expect(code, err.join("\n")).toBe(0);
      return { fusion: (await openIndex(out)).manifest.lexical!.fusion, err: err.join("\n") };
    };
    const adapted = await build("adapted");
    expect(adapted.fusion).toMatchObject({ mode: "weighted", weight: 0.15, normalization: "tmm" });
    expect(adapted.err).toMatch(/build: fusion weight 0\.15 tmm \(the model's 0\.6 times 0\.2500/);
    // The same weight as the command on the same corpus.
    const r = await tune("--pseudo", "--index", index, "--model", model);
    expect(r.out).toMatch(/-> weight 0\.15$/m);

    const fixed = await build("fixed", "--fusion-weight", "0.7");
    expect(fixed.fusion).toMatchObject({ weight: 0.7, normalization: "tmm" });
    expect(fixed.err).not.toMatch(/adapting/);
    const minmax = await build("minmax", "--fusion-normalization", "minmax");
    expect(minmax.fusion.normalization).toBe("minmax");
    expect(minmax.err).not.toMatch(/adapting/);
    const rrf = await build("rrf", "--fusion", "rrf");
    expect(rrf.fusion.mode).toBe("rrf");
    expect(rrf.err).not.toMatch(/adapting/);
    // A slice is not a corpus: its weight stays the model's (the merge of all slices can be adapted with --apply).
    const slice = await build("slice", "--shard", "1/2");
    expect(slice.fusion.weight).toBe(0.43);
    expect(slice.err).not.toMatch(/adapting/);
  }, 120_000);

  it("a model whose anchor is malformed fails the build before anything is encoded", async () => {
    await withAnchor({ weight: 0.6, normalization: "tmm", ratio: "high" });
    const err: string[] = [];
    const out = path.join(tmp, "bad-anchor");
    const code = await runBuildCommand(["--corpus", path.join(BEIR, "corpus.jsonl"), "--model", model, "--out", out, "--device", "cpu"], { out: () => {}, err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.join("\n")).toMatch(/model\.json: "pseudoFusion" "ratio" must be a positive number, got "high"/);
    await expect(readFile(path.join(out, "manifest.json"))).rejects.toThrow();
  }, 60_000);

  it("exits 2 on bad usage and 1 with a message on a bad model, anchor or index", async () => {
    const missing = await tune("--pseudo");
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--index is required[\s\S]*usage: i3 tune-fusion --pseudo/);
    const queries = await tune("--pseudo", "--index", index, "--model", model, "--queries", "0");
    expect(queries.code).toBe(2);
    const extra = await tune("--pseudo", "--index", index, "stray");
    expect(extra.code).toBe(2);

    await withAnchor({ weight: 0.6, normalization: "tmm", ratio: -1 });
    const badAnchor = await tune("--pseudo", "--index", index, "--model", model);
    expect(badAnchor.code).toBe(1);
    expect(badAnchor.err).toMatch(/model\.json: "pseudoFusion" "ratio" must be a positive number, got -1/);
    expect(badAnchor.err).not.toMatch(/\n\s+at /);

    const other = await tune("--pseudo", "--index", index, "--model", path.join(ROOT, "models/use-lite"));
    expect(other.code).toBe(1);
    expect(other.err).toMatch(/is not the model the index was built with \(tiny\)/);

    const noModel = await tune("--pseudo", "--index", index, "--model", path.join(tmp, "nowhere"));
    expect(noModel.code).toBe(1);
    expect(noModel.err).toMatch(/cannot read model\.json/);

    await withAnchor({ weight: 0.6, normalization: "tmm", ratio: 0.5 });
    const lexicalLess = await tune("--pseudo", "--index", noLexical, "--model", model);
    expect(lexicalLess.code).toBe(1);
    expect(lexicalLess.err).toMatch(/no lexical section/);

    const notABuild = await tune("--pseudo", "--index", path.join(tmp, "nowhere"), "--model", model);
    expect(notABuild.code).toBe(1);
    expect(notABuild.err).not.toMatch(/\n\s+at /);
  }, 60_000);
});
