import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprint, importClosure } from "./fingerprint.ts";

const ROOT = resolve(import.meta.dirname, "../..");

describe("the fixture-index cache key of the workerd tests", () => {
  it("covers the build, the encoder, the format, text and search core and the offline expectations", () => {
    const files = importClosure([join(ROOT, "test/worker/global-setup.ts")]).map((f) => relative(ROOT, f));
    for (const f of [
      "offline/build/build.ts", "offline/build/bm25.ts", "offline/encoder/node-encoder.ts", "offline/eval/dense.ts",
      "src/format/manifest.ts", "src/format/shard.ts", "src/text/analyzer.ts", "src/text/passages.ts",
      "src/text/tokenizer/trie.ts", "src/search/bm25.ts", "src/search/fusion.ts", "src/errors.ts",
    ]) expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith("offline/publish/") || f.startsWith("src/worker/"))).toEqual([]);
  });
});

describe("fingerprint", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "i3-fingerprint-"));
    await mkdir(join(dir, "lib"));
    await writeFile(join(dir, "main.ts"), 'import { a } from "./lib";\n// import { x } from "./not-a-file";\nexport const b = import("./lib/b.ts");\n');
    await writeFile(join(dir, "lib/index.ts"), 'export * from "./c";\nexport const a = 1;\n');
    await writeFile(join(dir, "lib/b.ts"), "export const b = 2;\n");
    await writeFile(join(dir, "lib/c.ts"), 'import "node:fs";\nexport const c = 3;\n');
    await writeFile(join(dir, "lib/unused.ts"), "export const u = 4;\n");
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("follows static, re-exported and dynamic relative imports, not comments or packages", () => {
    expect(importClosure([join(dir, "main.ts")]).map((f) => relative(dir, f))).toEqual(["lib/b.ts", "lib/c.ts", "lib/index.ts", "main.ts"]);
  });

  it("changes with any file's bytes or path under the given folders, and with the extra string", async () => {
    const before = fingerprint(dir, ["lib"], "opts");
    expect(fingerprint(dir, ["lib"], "opts")).toBe(before);
    expect(fingerprint(dir, ["lib"], "other")).not.toBe(before);
    await writeFile(join(dir, "lib/unused.ts"), "export const u = 5;\n");
    expect(fingerprint(dir, ["lib"], "opts")).not.toBe(before);
  });
});
