// Incremental updates (`i3 build --base --upsert --delete`) and `i3 compact`, with the tiny model and real
// onnxruntime-node on real files: what a search of the updated version returns (the offline search, the worker's
// code), what is reused, 100 updates in a row, and compaction against a fresh build of the same corpus.
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex, type BuildOptions } from "../../../offline/build/build.ts";
import { runBuildCommand, runCompactCommand } from "../../../offline/build/command.ts";
import { runDefaultsCommand } from "../../../offline/build/defaults.ts";
import { compactIndex } from "../../../offline/build/compact.ts";
import { parseFieldsFlag } from "../../../offline/build/fields.ts";
import { updateIndex } from "../../../offline/build/update.ts";
import { indexRun, openIndex } from "../../../offline/eval/index-search.ts";
import type { SearchMode } from "../../../src/search/modes.ts";
import { parseManifest, serializeManifest, type Manifest } from "../../../src/format/index.ts";
import { openBuildDir } from "../../../offline/build/build-dir.ts";
import { mergeIndexes } from "../../../offline/build/merge.ts";
import { verifyBuild } from "../../../offline/build/verify.ts";
import { adaptFusion } from "../../../offline/build/adapt-fusion.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const MODEL = path.join(ROOT, "test/fixtures/corpus-tiny/model");
const FIELDS = parseFieldsFlag("year:int,tags:keyword[]");
const quiet = { write: () => true };
const WORDS = ["river", "stone", "copper", "violet", "harbor", "lantern", "meadow", "falcon", "glacier", "orchard", "thunder", "velvet"];
let tmp: string;

interface TestDoc { id: string; text: string; metadata: { year: number; tags: string[] } }

/** Document `i`, version `v` (another text and year for each version). */
function doc(i: number, v = 0): TestDoc {
  const text = Array.from({ length: 4 + ((i + v) % 5) }, (_, j) => WORDS[(i * 5 + j * 7 + v * 3) % WORDS.length]).join(" ");
  return { id: `d${i}`, text: `${text} w${i}v${v}`, metadata: { year: 2000 + ((i + v) % 20), tags: [`t${(i + v) % 3}`] } };
}
const jsonl = (docs: TestDoc[]) => docs.map((d) => JSON.stringify(d)).join("\n") + "\n";
const file = (name: string) => path.join(tmp, name);

const buildOpts = (corpus: string, out: string, o: Partial<BuildOptions> = {}): BuildOptions => ({
  corpus: file(corpus), model: MODEL, out: file(out), device: "cpu", stderr: quiet, fields: FIELDS, docsPerBlock: 16, ...o,
});

async function update(base: string, out: string, upserts: TestDoc[], deletes: string[] = []) {
  if (upserts.length) await writeFile(file(`${out}.up.jsonl`), jsonl(upserts));
  if (deletes.length) await writeFile(file(`${out}.del.txt`), deletes.join("\n") + "\n");
  return updateIndex({
    base: file(base), out: file(out), model: MODEL, device: "cpu", stderr: quiet,
    upsert: upserts.length ? file(`${out}.up.jsonl`) : undefined, delete: deletes.length ? file(`${out}.del.txt`) : undefined,
  });
}

async function manifestOf(dir: string): Promise<Manifest> {
  return parseManifest(JSON.parse(await readFile(path.join(file(dir), "manifest.json"), "utf8")));
}

/** The ids a search of the version may return (every id of the version not deleted), in version order. */
async function liveIds(dir: string): Promise<string[]> {
  const idx = await openIndex(file(dir));
  return idx.ids.filter((_, o) => !idx.live || idx.live.has(o));
}

const QUERIES = [
  { id: "q1", text: "river stone copper" }, { id: "q2", text: "violet harbor lantern meadow" }, { id: "q3", text: "falcon glacier" },
  { id: "q4", text: "orchard thunder velvet river" }, { id: "q5", text: "w3v0 stone" }, { id: "q6", text: "w101v0 w7v1" },
];

async function results(dir: string, mode: SearchMode, k = 10) {
  const { run } = await indexRun(file(dir), QUERIES, { k, mode, fusion: { mode: "weighted", weight: 0.5, normalization: "tmm" } });
  return QUERIES.map((q) => run.get(q.id)!);
}

function expectSameRanking(a: Array<Array<{ id: string; score: number }>>, b: typeof a, digits: number) {
  expect(a.map((r) => r.map((h) => h.id))).toEqual(b.map((r) => r.map((h) => h.id)));
  a.forEach((r, i) => r.forEach((h, j) => expect(h.score).toBeCloseTo(b[i][j].score, digits)));
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-update-"));
  await writeFile(file("base.jsonl"), jsonl(Array.from({ length: 100 }, (_, i) => doc(i))));
  await buildIndex(buildOpts("base.jsonl", "base", { partitioning: { partitions: 1 } }));
}, 60_000);
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("i3 build --base", () => {
  it("an update that only adds documents ranks exactly as a fresh build of the base and them (every mode)", async () => {
    const added = Array.from({ length: 20 }, (_, i) => doc(100 + i));
    const s = await update("base", "add", added);
    expect(s).toMatchObject({ added: 20, replaced: 0, deleted: 0, deltaDocuments: 20, tombstoned: 0 });
    await writeFile(file("all.jsonl"), jsonl([...Array.from({ length: 100 }, (_, i) => doc(i)), ...added]));
    await buildIndex(buildOpts("all.jsonl", "all", { partitioning: { partitions: 1 } }));
    for (const mode of ["lexical", "dense", "hybrid"] as const) expectSameRanking(await results("add", mode), await results("all", mode), 6);
    const m = await manifestOf("add");
    expect(m.version).toEqual({ major: 3, minor: 0 });
    expect(m.delta).toMatchObject({ first: 100, documents: 20, updates: 1 });
    expect(m.tombstones).toBeUndefined();
    // Every object of the base is reused; the update wrote only its delta.
    const baseObjects = new Set((await manifestOf("base")).objects.map((o) => o.path));
    expect(m.objects.filter((o) => !baseObjects.has(o.path))).toHaveLength(s.newObjects);
    expect((await manifestOf("base")).objects.every((o) => m.objects.some((x) => x.path === o.path))).toBe(true);
  }, 60_000);

  it("upsert replaces, delete removes, a re-upsert brings a document back, an unknown id is reported", async () => {
    const s1 = await update("base", "u1", [doc(3, 1), doc(100, 0)], ["d5", "nope"]);
    expect(s1).toMatchObject({ added: 1, replaced: 1, deleted: 1, unknownDeletes: ["nope"], deltaDocuments: 2, tombstoned: 2 });
    let live = await liveIds("u1");
    expect(live).not.toContain("d5");
    expect(live.filter((id) => id === "d3")).toHaveLength(1);
    expect(live.slice(-2)).toEqual(["d3", "d100"]);
    // The old text of d3 is gone from every side; its new one is found.
    for (const mode of ["lexical", "hybrid"] as const) {
      const r = (await indexRun(file("u1"), [{ id: "old", text: "w3v0" }, { id: "new", text: "w3v1" }, { id: "gone", text: "w5v0" }], { k: 5, mode })).run;
      expect(r.get("old")!.map((h) => h.id)).not.toContain("d3");
      expect(r.get("new")![0].id).toBe("d3");
      expect(r.get("gone")!.map((h) => h.id)).not.toContain("d5");
    }
    // Deleting a delta document drops it from the delta; upserting a deleted base id brings it back (in the delta).
    const s2 = await update("u1", "u2", [doc(5, 2)], ["d100"]);
    expect(s2).toMatchObject({ added: 1, replaced: 0, deleted: 1, unknownDeletes: [], deltaDocuments: 2, tombstoned: 2 });
    live = await liveIds("u2");
    expect(live).not.toContain("d100");
    expect(live.slice(-2)).toEqual(["d3", "d5"]);
    expect((await manifestOf("u2")).delta?.updates).toBe(2);
    const r = (await indexRun(file("u2"), [{ id: "q", text: "w5v2" }], { k: 3, mode: "lexical" })).run;
    expect(r.get("q")![0].id).toBe("d5");
    // Deleting everything the delta holds leaves tombstones only.
    await update("u2", "u3", [], ["d3", "d5"]);
    const m3 = await manifestOf("u3");
    expect(m3.delta).toBeUndefined();
    expect(m3.tombstones?.count).toBe(2);
    expect(await liveIds("u3")).toHaveLength(98);
  }, 60_000);

  it("100 updates in a row: the live documents are exactly the expected ones; the version stays one base and one delta", async () => {
    let baseOrder = Array.from({ length: 100 }, (_, i) => `d${i}`);
    let deltaOrder: string[] = [];
    const version = new Map(baseOrder.map((id) => [id, 0]));
    let prev = "base";
    for (let u = 1; u <= 100; u++) {
      const replace = (u * 37) % 100, add = 200 + u, remove = (u * 53 + 11) % 100;
      const ups = [doc(replace, u), doc(add, 0)];
      const dels = remove === replace ? [] : [`d${remove}`];
      await update(prev, `r${u}`, ups, dels);
      if (prev !== "base") await rm(file(prev), { recursive: true });
      prev = `r${u}`;
      for (const id of [...ups.map((d) => d.id), ...dels]) {
        baseOrder = baseOrder.filter((x) => x !== id);
        deltaOrder = deltaOrder.filter((x) => x !== id);
      }
      deltaOrder.push(...ups.map((d) => d.id));
      version.set(`d${replace}`, u);
      version.set(`d${add}`, 0);
      for (const id of dels) version.delete(id);
    }
    expect(await liveIds("r100")).toEqual([...baseOrder, ...deltaOrder]);
    const m = await manifestOf("r100");
    expect(m.delta?.updates).toBe(100);
    expect(m.delta?.documents).toBe(deltaOrder.length);
    // The base's objects, the one delta's and the tombstones: nothing of the 99 earlier versions is left.
    const d = m.delta!;
    const deltaObjects = d.shards.length + d.docs.blocks.length + d.docs.ids.buckets.length + d.lexical!.buckets.length + 1 + 1;
    expect(m.objects.length).toBe((await manifestOf("base")).objects.length + deltaObjects + 1);
    // Every live document's newest text is what the version serves.
    const expected = [...baseOrder, ...deltaOrder].map((id) => doc(Number(id.slice(1)), version.get(id)!));
    await writeFile(file("r100.expected.jsonl"), jsonl(expected));
    const r = (await indexRun(file("r100"), expected.slice(-5).map((d) => ({ id: d.id, text: d.text.split(" ").at(-1)! })), { k: 1, mode: "lexical" })).run;
    for (const d of expected.slice(-5)) expect(r.get(d.id)![0].id).toBe(d.id);

    // Compaction equals a fresh build of the same corpus: the same objects, so the same results in every mode.
    await compactIndex({ base: file("r100"), out: file("compact"), model: MODEL, device: "cpu", stderr: quiet });
    await buildIndex(buildOpts("r100.expected.jsonl", "fresh", { partitioning: { partitions: 1 } }));
    const [c, f] = [await manifestOf("compact"), await manifestOf("fresh")];
    expect(c.version).toEqual({ major: 2, minor: 1 });
    expect(c.delta).toBeUndefined();
    expect(c.objects.map((o) => o.sha256).sort()).toEqual(f.objects.map((o) => o.sha256).sort());
    for (const mode of ["lexical", "dense", "hybrid"] as const) expectSameRanking(await results("compact", mode), await results("fresh", mode), 9);
  }, 300_000);

  it("a partitioned base: the delta is scanned with the probed partitions, and a deleted document is left out, in every mode", async () => {
    await buildIndex(buildOpts("base.jsonl", "ivf", { partitioning: { partitions: 4 } }));
    await update("ivf", "ivf-u", [doc(7, 9), doc(150, 0)], ["d8"]);
    const idx = await openIndex(file("ivf-u"));
    expect(idx.manifest.partitions.length).toBeGreaterThan(1);
    for (const mode of ["hybrid", "lexical"] as const) {
      const r = (await indexRun(file("ivf-u"), [{ id: "q", text: "w150v0" }, { id: "d", text: "w8v0" }], { k: 3, mode })).run;
      expect(r.get("q")![0].id, mode).toBe("d150");
      expect(r.get("d")!.map((h) => h.id), mode).not.toContain("d8");
    }
    // Dense: every document but the deleted one can be returned, the delta's among them.
    const dense = (await indexRun(file("ivf-u"), [{ id: "all", text: "river" }], { k: 200, mode: "dense", probe: 100 })).run.get("all")!.map((h) => h.id);
    expect(dense).not.toContain("d8");
    expect(dense).toContain("d150");
    expect(dense.filter((id) => id === "d7")).toHaveLength(1);
  }, 60_000);
});

describe("a model whose edge query graph was optimized at export (offline/train/export.py optimize)", () => {
  it("updates an index built before, with the graph it replaced (the same outputs); without `replaces` it is another model", async () => {
    const { createHash } = await import("node:crypto");
    const ort = await import("onnxruntime-node");
    const tiny = JSON.parse(await readFile(path.join(MODEL, "model.json"), "utf8"));
    const query = path.resolve(MODEL, tiny.query);
    const optimized = file("tiny-optimized.onnx");
    await ort.InferenceSession.create(query, { graphOptimizationLevel: "extended", optimizedModelFilePath: optimized });
    const replaces = createHash("sha256").update(await readFile(query)).digest("hex");
    const modelDir = async (name: string, graph: object) => {
      await cp(MODEL, file(name), { recursive: true });
      const rel = (f: string) => path.relative(file(name), f); // a sidecar names its files relative to its dir
      const edgeQuery = rel(optimized);
      await writeFile(path.join(file(name), "model.json"), JSON.stringify({
        ...tiny, query: rel(query), passage: rel(query), edgeQuery, edgeQueryGraph: "optimized", edgeQueryVariants: { [edgeQuery]: { graph } },
      }));
      return file(name);
    };
    const upsert = file("opt.up.jsonl");
    await writeFile(upsert, jsonl([doc(3, 9)]));
    const r = await updateIndex({ base: file("base"), out: file("opt"), model: await modelDir("tiny-opt", { replaces }), device: "cpu", stderr: quiet, upsert });
    expect(r.compacted).toBe(false);
    expect((await manifestOf("opt")).model.query.sha256).toBe(replaces); // the base's query model, as every update keeps
    expect((await indexRun(file("opt"), [{ id: "q", text: doc(3, 9).text }], { k: 1, mode: "lexical" })).run.get("q")![0].id).toBe("d3");
    await expect(updateIndex({ base: file("base"), out: file("opt2"), model: await modelDir("tiny-opt2", {}), device: "cpu", stderr: quiet, upsert }))
      .rejects.toMatchObject({ message: expect.stringMatching(/is not the model .* was built with \(tiny\)/) });
    expect(existsSync(file("opt2"))).toBe(false);
  }, 60_000);
});

describe("i3 build --base --corpus (the whole new corpus)", () => {
  it("upserts what is new or changed, deletes what is gone, and leaves the rest alone", async () => {
    const next = [...Array.from({ length: 100 }, (_, i) => doc(i)).filter((d) => d.id !== "d9" && d.id !== "d10"), doc(4, 3), doc(400)];
    next.splice(next.findIndex((d) => d.id === "d4"), 1); // d4 changed: its new copy is the one at the end
    next[20] = { ...next[20], metadata: { ...next[20].metadata, year: 1999 } }; // metadata alone changed
    await writeFile(file("next.jsonl"), jsonl(next));
    const s = await updateIndex({ base: file("base"), corpus: file("next.jsonl"), out: file("sync"), model: MODEL, device: "cpu", stderr: quiet });
    expect(s).toMatchObject({ added: 1, replaced: 2, deleted: 2, unknownDeletes: [], deltaDocuments: 3, tombstoned: 4, compacted: false });
    expect((await liveIds("sync")).sort()).toEqual(next.map((d) => d.id).sort());
    // Nothing changed: an update that changes nothing.
    const same = await updateIndex({ base: file("sync"), corpus: file("next.jsonl"), out: file("sync2"), model: MODEL, device: "cpu", stderr: quiet });
    expect(same).toMatchObject({ added: 0, replaced: 0, deleted: 0, deltaDocuments: 3, tombstoned: 4, unchanged: true });
    expect(existsSync(file("sync2"))).toBe(false);
    // Deleting only ids the version does not have changes nothing either.
    await writeFile(file("absent.txt"), "d9\nnope\n");
    expect((await updateIndex({ base: file("sync"), delete: file("absent.txt"), out: file("sync3"), model: MODEL, device: "cpu", stderr: quiet })).unchanged).toBe(true);
  }, 60_000);

  it("--compact-above: a delta past that share of the base is compacted into a new base", async () => {
    const next = Array.from({ length: 100 }, (_, i) => doc(i, i < 15 ? 1 : 0));
    await writeFile(file("next15.jsonl"), jsonl(next));
    const s = await updateIndex({ base: file("base"), corpus: file("next15.jsonl"), out: file("c15"), model: MODEL, device: "cpu", stderr: quiet, compactAbove: 0.1 });
    expect(s).toMatchObject({ replaced: 15, compacted: true });
    const m = await manifestOf("c15");
    expect(m.delta).toBeUndefined();
    expect(m.version).toEqual({ major: 2, minor: 1 });
    expect(await liveIds("c15")).toEqual([...next.slice(15), ...next.slice(0, 15)].map((d) => d.id));
    const small = await updateIndex({ base: file("base"), corpus: file("next15.jsonl"), out: file("c15b"), model: MODEL, device: "cpu", stderr: quiet, compactAbove: 0.5 });
    expect(small.compacted).toBe(false);
    expect((await manifestOf("c15b")).delta?.documents).toBe(15);
  }, 60_000);
});

describe("the CLI", () => {
  const io = () => {
    const errors: string[] = [];
    return { errors, io: { err: (l: string) => errors.push(l), out: () => {} } };
  };

  it("refuses what an update cannot do, with exit 2 and nothing written", async () => {
    const { errors, io: o } = io();
    await writeFile(file("one.jsonl"), jsonl([doc(1, 5)]));
    const run = (args: string[]) => runBuildCommand(["--model", MODEL, "--device", "cpu", ...args], o);
    expect(await run(["--upsert", file("one.jsonl"), "--out", file("x1")])).toBe(2);
    expect(errors.join("\n")).toContain("--upsert, --delete and --compact-above update a build: give it with --base");
    expect(await run(["--base", file("base"), "--out", file("x2")])).toBe(2);
    expect(errors.join("\n")).toContain("--base needs --corpus");
    expect(await run(["--base", file("base"), "--corpus", file("one.jsonl"), "--upsert", file("one.jsonl"), "--out", file("x6")])).toBe(2);
    expect(errors.join("\n")).toContain("not both");
    expect(await run(["--base", file("base"), "--upsert", file("one.jsonl"), "--out", file("x3"), "--window", "4"])).toBe(2);
    expect(errors.join("\n")).toContain("--window is the base's");
    expect(await runBuildCommand(["--base", file("base"), "--upsert", file("one.jsonl"), "--out", file("x4"), "--model", path.join(ROOT, "models/use-lite")], o)).toBe(2);
    expect(errors.join("\n")).toMatch(/is not the model .* was built with \(tiny\)/);
    expect(await run(["--base", file("base"), "--delete", file("missing.txt"), "--out", file("x5")])).toBe(2);
    expect(errors.join("\n")).toContain("missing.txt: ENOENT");
    for (const x of ["x1", "x2", "x3", "x4", "x5", "x6"]) expect(existsSync(file(x))).toBe(false);
  }, 60_000);

  it("a bad upserted document fails naming its line (exit 1); nothing is written", async () => {
    const { errors, io: o } = io();
    await writeFile(file("bad.jsonl"), jsonl([doc(1, 5)]) + JSON.stringify({ id: "d2", text: "x", metadata: { year: "2020" } }) + "\n");
    expect(await runBuildCommand(["--base", file("base"), "--upsert", file("bad.jsonl"), "--model", MODEL, "--device", "cpu", "--out", file("bad")], o)).toBe(1);
    expect(errors.join("\n")).toMatch(/bad\.jsonl:2: document "d2": metadata\.year must be an integer/);
    expect(existsSync(file("bad"))).toBe(false);
  }, 60_000);

  it("i3 merge refuses an updated version (compact it first); a delta object that is not what the manifest says fails the verification", async () => {
    await expect(mergeIndexes({ inputs: [file("u1"), file("base")], out: file("m1"), stderr: quiet })).rejects.toMatchObject({ code: "merge_mismatch", message: expect.stringContaining("i3 compact") });
    // The delta's id bucket swapped for another (valid) bucket of a different delta: caught by the header check.
    const u1 = await manifestOf("u1");
    const other = { ...(await manifestOf("add")).delta!.docs.ids.buckets[0], count: 2 }; // counts that add up, bytes that do not
    const forged = { ...u1, delta: { ...u1.delta!, docs: { ...u1.delta!.docs, ids: { ...u1.delta!.docs.ids, buckets: [{ ...other }] } } } };
    forged.objects = [...u1.objects.filter((o) => o.path !== u1.delta!.docs.ids.buckets[0].path), other];
    await cp(file("u1"), file("forged"), { recursive: true });
    await cp(path.join(file("add"), other.path), path.join(file("forged"), other.path));
    await writeFile(path.join(file("forged"), "manifest.json"), serializeManifest(forged));
    await expect(verifyBuild(await openBuildDir(file("forged")))).rejects.toMatchObject({ code: "invalid_build", message: expect.stringContaining("id bucket") });
  }, 60_000);

  it("the pseudo-query statistic (adaptive fusion) refuses an updated version: compact it first", async () => {
    await expect(adaptFusion(file("u1"), { weight: 0.5, normalization: "tmm", ratio: 1 } as Parameters<typeof adaptFusion>[1]))
      .rejects.toMatchObject({ code: "invalid_build", message: expect.stringContaining("incrementally updated version") });
  });

  it("i3 compact: usage errors and a flat base compacted", async () => {
    const { errors, io: o } = io();
    expect(await runCompactCommand(["--out", file("c1")], o)).toBe(2);
    expect(errors.join("\n")).toContain("missing --base");
    expect(await runCompactCommand(["--base", file("u1"), "--out", file("c2"), "--model", MODEL, "--device", "cpu"], o)).toBe(0);
    expect((await liveIds("c2"))).toEqual(await liveIds("u1"));
    // Its lineage: u1's (the base's version), then u1's version; publishing checks it.
    const lineage = JSON.parse(await readFile(path.join(file("c2"), "build-info.json"), "utf8")).lineage;
    expect(lineage).toEqual([(await openBuildDir(file("base"))).version, (await openBuildDir(file("u1"))).version]);
    expect(await runCompactCommand(["--base", file("u1"), "--out", file("c3"), "--model", path.join(ROOT, "models/use-lite"), "--device", "cpu"], o)).toBe(2);
    expect(errors.join("\n")).toMatch(/compaction must encode with the same model/);
  }, 60_000);

  it("a manifest rewritten after an update (i3 defaults) keeps the version it replaces in the lineage", async () => {
    await cp(file("u2"), file("u2-defaults"), { recursive: true });
    const before = (await openBuildDir(file("u2-defaults"))).version;
    const { errors, io: o } = io();
    expect(await runDefaultsCommand([file("u2-defaults"), "--fusion-weight", "0.3"], o), errors.join("\n")).toBe(0);
    const after = await openBuildDir(file("u2-defaults"));
    expect(after.version).not.toBe(before);
    const lineage = JSON.parse(await readFile(path.join(file("u2-defaults"), "build-info.json"), "utf8")).lineage;
    expect(lineage.at(-1)).toBe(before);
  }, 60_000);
});
