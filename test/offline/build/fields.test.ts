// `i3 build --fields`: filterable fields read from the corpus' metadata, checked per document (a bad value fails the
// build naming the line and field, with nothing written), stored as columns (and, partitioned, the documents of
// each partition), rebuilt by `i3 merge`; the tiny model and real onnxruntime-node, real files.
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex, type BuildOptions } from "../../../offline/build/build.ts";
import { runBuildCommand } from "../../../offline/build/command.ts";
import { parseFieldsFlag } from "../../../offline/build/fields.ts";
import { mergeIndexes } from "../../../offline/build/merge.ts";
import {
  decodeFieldColumns, decodePartitionDocs, decodeShard, hasValue, parseManifest, type FieldSpec, type Manifest,
} from "../../../src/format/index.ts";
import { parseDate } from "../../../src/search/field-values.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const MODEL = path.join(ROOT, "test/fixtures/corpus-tiny/model");
const FIELDS = parseFieldsFlag("year:int,lang:keyword,tags:keyword[],published:date");
const quiet = { write: () => true };
let tmp: string;

/** 120 documents; year absent from every 7th, tags from every 4th. */
function corpus(n = 120, bad?: { line: number; metadata: Record<string, unknown> }): string {
  const words = ["abc", "a", "b", "c", "aaa", "ab"];
  return Array.from({ length: n }, (_, i) => {
    const metadata: Record<string, unknown> = { lang: i % 3 ? "en" : "de", published: `20${10 + (i % 10)}-0${1 + (i % 9)}-15` };
    if (i % 7) metadata.year = 2000 + (i % 25);
    if (i % 4) metadata.tags = [`t${i % 5}`, ...(i % 2 ? ["odd"] : [])];
    if (i % 11 === 0) metadata.other = { nested: true }; // undeclared metadata is kept, not checked
    return JSON.stringify({ id: `d${i}`, text: Array.from({ length: 3 + (i % 5) }, (_, j) => words[(i * 7 + j * 3) % 6]).join(" "), metadata: bad && bad.line === i + 1 ? bad.metadata : metadata });
  }).join("\n") + "\n";
}

const base = (out: string, file: string, o: Partial<BuildOptions> = {}): BuildOptions => ({
  corpus: path.join(tmp, file), model: MODEL, out: path.join(tmp, out), device: "cpu", stderr: quiet, fields: FIELDS, docsPerBlock: 50, ...o,
});

async function manifestOf(dir: string): Promise<Manifest> {
  return parseManifest(JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")));
}

const objectBytes = async (dir: string, p: string) => new Uint8Array(await readFile(path.join(dir, p)));

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-fields-"));
  await writeFile(path.join(tmp, "corpus.jsonl"), corpus());
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("i3 build --fields", () => {
  it("parses the flag, and refuses bad names, types and repeats", () => {
    expect(FIELDS).toEqual<FieldSpec[]>([{ name: "year", type: "int" }, { name: "lang", type: "keyword" }, { name: "tags", type: "keyword[]" }, { name: "published", type: "date" }]);
    expect(() => parseFieldsFlag("year:float")).toThrow(/type must be one of int, date, keyword, keyword\[\]/);
    expect(() => parseFieldsFlag("$year:int")).toThrow(/field name "\$year"/);
    expect(() => parseFieldsFlag("year:int,year:date")).toThrow(/declared twice/);
    expect(() => parseFieldsFlag("year")).toThrow(/expected name:type/);
  });

  it("stores every document's values in the columns, listed in a 2.1 manifest (flat: no partition documents)", async () => {
    await buildIndex(base("flat", "corpus.jsonl"));
    const dir = path.join(tmp, "flat");
    const m = await manifestOf(dir);
    expect(m.version).toEqual({ major: 2, minor: 1 });
    expect(m.fields?.schema).toEqual(FIELDS);
    expect(m.fields?.columns).toMatchObject({ kind: "fields", count: 120 });
    expect(m.fields?.partitionDocs).toBeUndefined();
    expect(m.objects.map((o) => o.path)).toContain(m.fields!.columns.path);
    const cols = decodeFieldColumns(await objectBytes(dir, m.fields!.columns.path));
    const lines = corpus().trim().split("\n").map((l) => JSON.parse(l).metadata);
    const [year, lang, tags, published] = cols.columns;
    lines.forEach((md, i) => {
      expect(hasValue(year, i) ? (year.type === "int" && year.values[i]) : undefined).toBe(md.year);
      expect(lang.type === "keyword" && lang.dict[lang.ids[i]]).toBe(md.lang);
      expect(hasValue(tags, i) ? tags.type === "keyword[]" && [...tags.ids.subarray(tags.offsets[i], tags.offsets[i + 1])].map((id) => tags.dict[id]) : undefined).toEqual(md.tags);
      expect(published.type === "date" && published.values[i]).toBe(parseDate(md.published));
    });
  });

  it("partitioned: the documents of each partition, as its shard's ordinals say", async () => {
    await buildIndex(base("ivf", "corpus.jsonl", { partitioning: { partitions: 4 } }));
    const dir = path.join(tmp, "ivf");
    const m = await manifestOf(dir);
    expect(m.partitions).toHaveLength(4);
    expect(m.fields?.partitionDocs).toMatchObject({ kind: "fields", count: 4 });
    const pd = decodePartitionDocs(await objectBytes(dir, m.fields!.partitionDocs!.path));
    for (let p = 0; p < 4; p++) {
      const shard = decodeShard(await objectBytes(dir, m.partitions[p].shards[0].path));
      expect([...pd.docs.subarray(pd.offsets[p], pd.offsets[p + 1])]).toEqual([...new Set(shard.ordinals)]);
    }
  });

  it("a value of the wrong type fails the build naming the line and field; nothing is written", async () => {
    for (const [metadata, want] of [
      [{ year: "2020" }, /bad\.jsonl:5: document "d4": metadata\.year must be an integer from -2147483648 to 2147483647 \(declared int\), got "2020"/],
      [{ tags: "x" }, /bad\.jsonl:5: document "d4": metadata\.tags must be an array of strings \(declared keyword\[\]\), got "x"/],
      [{ published: "2020-13-45" }, /metadata\.published must be an ISO 8601 date/],
      [{ lang: ["en"] }, /metadata\.lang must be a string/],
    ] as const) {
      await writeFile(path.join(tmp, "bad.jsonl"), corpus(120, { line: 5, metadata }));
      await expect(buildIndex(base("bad", "bad.jsonl"))).rejects.toMatchObject({ code: "invalid_corpus", message: expect.stringMatching(want) });
      expect(existsSync(path.join(tmp, "bad"))).toBe(false);
      expect(existsSync(path.join(tmp, "bad.partial"))).toBe(false);
    }
  });

  it("the CLI: --fields-file, exit 2 on a bad declaration, 1 on a bad value", async () => {
    const errors: string[] = [];
    const io = { err: (l: string) => errors.push(l), out: () => {} };
    await writeFile(path.join(tmp, "schema.json"), JSON.stringify({ year: "int", tags: "keyword[]" }));
    const args = ["--corpus", path.join(tmp, "corpus.jsonl"), "--model", MODEL, "--device", "cpu"];
    expect(await runBuildCommand([...args, "--out", path.join(tmp, "cli"), "--fields-file", path.join(tmp, "schema.json")], io), errors.join("\n")).toBe(0);
    expect((await manifestOf(path.join(tmp, "cli"))).fields?.schema).toEqual([{ name: "year", type: "int" }, { name: "tags", type: "keyword[]" }]);
    expect(await runBuildCommand([...args, "--out", path.join(tmp, "cli2"), "--fields", "year:integer"], io)).toBe(2);
    await writeFile(path.join(tmp, "bad.jsonl"), corpus(120, { line: 9, metadata: { year: 1.5 } }));
    expect(await runBuildCommand(["--corpus", path.join(tmp, "bad.jsonl"), "--model", MODEL, "--device", "cpu", "--out", path.join(tmp, "cli3"), "--fields", "year:int"], io)).toBe(1);
    expect(errors.join("\n")).toContain('bad.jsonl:9: document "d8": metadata.year must be an integer');
  }, 60_000);

  it("i3 merge rebuilds the columns over the merged documents; different fields are refused", async () => {
    await writeFile(path.join(tmp, "second.jsonl"), corpus(30).replaceAll('"id":"d', '"id":"e'));
    await buildIndex(base("second", "second.jsonl"));
    await mergeIndexes({ inputs: [path.join(tmp, "flat"), path.join(tmp, "second")], out: path.join(tmp, "merged"), stderr: quiet });
    const m = await manifestOf(path.join(tmp, "merged"));
    expect(m.fields?.columns.count).toBe(150);
    const cols = decodeFieldColumns(await objectBytes(path.join(tmp, "merged"), m.fields!.columns.path));
    const year = cols.columns[0];
    expect(year.type === "int" && [year.values[121], year.values[120 + 29]]).toEqual([2001, 2004]);
    await buildIndex(base("other", "second.jsonl", { fields: [{ name: "year", type: "int" }] }));
    await expect(mergeIndexes({ inputs: [path.join(tmp, "flat"), path.join(tmp, "other")], out: path.join(tmp, "merged2"), stderr: quiet }))
      .rejects.toMatchObject({ code: "merge_mismatch", message: expect.stringContaining("filterable fields differ") });
  }, 60_000);
});
