// `i3 defaults`: shows and rewrites a built index's search defaults (real builds of the tiny corpus, real files).
import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex } from "../../../offline/build/build.ts";
import { runDefaultsCommand } from "../../../offline/build/defaults.ts";
import { openBuildDir } from "../../../offline/build/build-dir.ts";
import { parseManifest } from "../../../src/format/index.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const FIX = path.join(ROOT, "test/fixtures/corpus-tiny");
let tmp: string;

async function i3defaults(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDefaultsCommand(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}
const manifestOf = async (dir: string) => parseManifest(JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")));

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-defaults-"));
  const common = { corpus: path.join(FIX, "good.jsonl"), model: path.join(FIX, "model"), device: "cpu" as const, stderr: { write: () => true } };
  await buildIndex({ ...common, out: path.join(tmp, "built") });
  await buildIndex({ ...common, out: path.join(tmp, "dense-only"), lexical: false });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("i3 defaults", () => {
  it("prints the defaults without changing anything", async () => {
    const before = await readFile(path.join(tmp, "built", "manifest.json"));
    const r = await i3defaults(path.join(tmp, "built"));
    expect(r.code, r.err).toBe(0);
    const m = await manifestOf(path.join(tmp, "built"));
    expect(JSON.parse(r.out)).toEqual({ defaultMode: m.lexical!.defaultMode, fusion: m.lexical!.fusion });
    expect(await readFile(path.join(tmp, "built", "manifest.json"))).toEqual(before);
  });

  it("rewrites only the named defaults; the objects stay and publishing makes a new version", async () => {
    const dir = path.join(tmp, "retuned");
    await cp(path.join(tmp, "built"), dir, { recursive: true });
    const before = await manifestOf(dir);
    const v0 = (await openBuildDir(dir)).version;
    const r = await i3defaults(dir, "--fusion-weight", "0.65", "--fusion-normalization", "minmax", "--default-mode", "lexical");
    expect(r.code, r.err).toBe(0);
    const after = await manifestOf(dir);
    expect(after.lexical!.fusion).toEqual({ ...before.lexical!.fusion, weight: 0.65, normalization: "minmax" });
    expect(after.lexical!.defaultMode).toBe("lexical");
    expect({ ...after, lexical: { ...after.lexical!, fusion: before.lexical!.fusion, defaultMode: before.lexical!.defaultMode } }).toEqual(before);
    const b = await openBuildDir(dir);
    await b.verify(); // every object still verifies
    expect(b.objects.map((o) => o.path)).toEqual((await openBuildDir(path.join(tmp, "built"))).objects.map((o) => o.path));
    expect(b.version).not.toBe(v0);
    expect((await readdir(dir)).filter((f) => f.includes(".tmp"))).toEqual([]);
  });

  it("a 1.1 manifest that gets a normalization becomes 1.2", async () => {
    const dir = path.join(tmp, "old");
    await cp(path.join(tmp, "built"), dir, { recursive: true });
    const json = JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8"));
    json.version = { major: 1, minor: 1 };
    delete json.lexical.fusion.normalization;
    await writeFile(path.join(dir, "manifest.json"), JSON.stringify(json));
    expect((await manifestOf(dir)).lexical!.fusion.normalization).toBe("minmax");
    expect((await i3defaults(dir, "--fusion-normalization", "tmm")).code).toBe(0);
    const m = await manifestOf(dir);
    expect(m.version).toEqual({ major: 1, minor: 2 });
    expect(m.lexical!.fusion.normalization).toBe("tmm");
  });

  it("exits 2 on a bad value or argument, 1 on a missing build or one without a lexical section", async () => {
    const bad = await i3defaults(path.join(tmp, "built"), "--fusion-weight", "1.5");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--fusion-weight must be a number in \[0,1\][\s\S]*usage: i3 defaults/);
    expect((await i3defaults()).code).toBe(2);
    expect((await i3defaults(path.join(tmp, "built"), "--bogus")).code).toBe(2);
    const missing = await i3defaults(path.join(tmp, "nope"));
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/manifest\.json: not found/);
    const dense = await i3defaults(path.join(tmp, "dense-only"), "--fusion-weight", "0.5");
    expect(dense.code).toBe(1);
    expect(dense.err).toMatch(/no lexical section/);
    expect(existsSync(path.join(tmp, "dense-only", "manifest.json"))).toBe(true);
    expect((await i3defaults(path.join(tmp, "dense-only"))).out).toBe(JSON.stringify({ defaultMode: "dense" }));
  });
});
