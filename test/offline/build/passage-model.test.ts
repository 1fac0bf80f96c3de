// Which passage model a build encodes with: the model's reference, or with `--passage int8` its int8 CPU model
// (model.json "cpuPassage"); a choice that cannot hold is a usage error (exit 2) before anything is built.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBuildCommand } from "../../../offline/build/command.ts";

const root = join(import.meta.dirname, "../../..");
const CORPUS = join(root, "test", "fixtures", "scifact-mini", "corpus.jsonl");
const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function build(model: string, extra: string[]): Promise<{ code: number; err: string }> {
  const dir = await mkdtemp(join(tmpdir(), "i3-passage-"));
  dirs.push(dir);
  const err: string[] = [];
  const code = await runBuildCommand(["--corpus", CORPUS, "--model", join(root, "models", model), "--out", join(dir, "out"), "--limit", "12", "--no-split", "--partitions", "1", ...extra], { out: () => {}, err: (l) => err.push(l) });
  return { code, err: err.join("\n") };
}

describe("the passage model of a build", () => {
  it("the reference by default; the int8 CPU passage model with --passage int8", async () => {
    const fp32 = await build("i3-scifact", ["--device", "cpu"]);
    expect(fp32.code, fp32.err).toBe(0);
    expect(fp32.err).toMatch(/passage model passage\.onnx\n/);
    const int8 = await build("i3-scifact", ["--device", "cpu", "--passage", "int8"]);
    expect(int8.code, int8.err).toBe(0);
    expect(int8.err).toContain("passage model passage.int8.onnx (the model's int8 CPU passage model)");
  });

  it("--passage int8 with a model that has none, or with PyTorch, is a usage error", async () => {
    const plain = await build("use-lite", ["--device", "cpu"]);
    expect(plain.code, plain.err).toBe(0);
    expect(plain.err).toMatch(/passage model encoder\.onnx\n/);
    const none = await build("use-lite", ["--passage", "int8"]);
    expect([none.code, none.err]).toEqual([2, expect.stringContaining('has no "cpuPassage"')]);
    const torch = await build("i3-scifact", ["--passage", "int8", "--encoder", "torch"]);
    expect([torch.code, torch.err]).toEqual([2, expect.stringContaining("--passage int8 runs in onnxruntime only")]);
  });
});
