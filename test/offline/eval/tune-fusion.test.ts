// `i3 tune-fusion` end to end on the tiny BEIR fixture (a real build, onnxruntime-node): it prints the grid, the weight
// the one-standard-error rule picks and the `i3 defaults` line that applies it; bad input exits 2 or 1.
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex } from "../../../offline/build/build.ts";
import { runDefaultsCommand } from "../../../offline/build/defaults.ts";
import { openIndex } from "../../../offline/eval/index-search.ts";
import { runTuneFusionCommand } from "../../../offline/eval/tune-fusion.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const BEIR = path.join(ROOT, "test/fixtures/beir-tiny");
let tmp: string, data: string, index: string;

async function tune(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runTuneFusionCommand(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-tune-"));
  // The fixture's test qrels stand in for a tenant's training queries (the script refuses a split named test).
  data = path.join(tmp, "data");
  await mkdir(path.join(data, "qrels"), { recursive: true });
  await cp(path.join(BEIR, "corpus.jsonl"), path.join(data, "corpus.jsonl"));
  await cp(path.join(BEIR, "queries.jsonl"), path.join(data, "queries.jsonl"));
  await cp(path.join(BEIR, "qrels/test.tsv"), path.join(data, "qrels/train.tsv"));
  index = path.join(tmp, "index");
  await buildIndex({ corpus: path.join(data, "corpus.jsonl"), model: path.join(BEIR, "model"), out: index, device: "cpu", stderr: { write: () => true } });
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("tune-fusion", () => {
  it("prints every weight of the grid, the one-SE pick and the command that applies it", async () => {
    const r = await tune("--data", data, "--index", index, "--step", "0.25", "--normalization", "minmax");
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/split train: 3 queries; weighted fusion normalization minmax/);
    for (const w of ["0.00", "0.25", "0.50", "0.75", "1.00"]) expect(r.out).toMatch(new RegExp(`^weighted:${w} 0\\.\\d{4}  `, "m"));
    const pick = /one-standard-error rule: weight ([\d.]+) /.exec(r.out);
    expect(pick).not.toBeNull();
    const apply = /apply it: npm run i3 -- defaults (\S+) --fusion weighted --fusion-weight ([\d.]+) --fusion-normalization minmax/.exec(r.out);
    expect(apply?.[1]).toBe(index);
    expect(apply?.[2]).toBe(pick![1]);
    // Applying it changes the index's defaults to exactly that.
    const err: string[] = [];
    expect(await runDefaultsCommand([index, "--fusion", "weighted", "--fusion-weight", apply![2], "--fusion-normalization", "minmax"], { err: (l) => err.push(l), out: () => {} }), err.join("\n")).toBe(0);
    expect((await openIndex(index)).manifest.lexical!.fusion).toMatchObject({ mode: "weighted", weight: Number(apply![2]), normalization: "minmax" });
  }, 60_000);

  it("exits 2 on bad usage (test split, bad step, unknown flag) and 1 on missing qrels", async () => {
    const testSplit = await tune("--data", data, "--index", index, "--split", "test");
    const step = await tune("--data", data, "--index", index, "--step", "0.3");
    const flag = await tune("--data", data, "--index", index, "--bogus");
    const noQrels = await tune("--data", data, "--index", index, "--split", "dev");
    expect(testSplit.code).toBe(2);
    expect(testSplit.err).toMatch(/never on test[\s\S]*usage:/);
    expect(step.code).toBe(2);
    expect(step.err).toMatch(/--step must divide 1/);
    expect(flag.code).toBe(2);
    expect(noQrels.code).toBe(1);
    expect(noQrels.err).toMatch(/qrels file not found/);
    expect(noQrels.err).not.toMatch(/\n\s+at /);
    const missing = await tune("--index", index);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--data and --index are required/);
  }, 60_000);
});
