// Doc blocks are cut by count and by bytes: a corpus of long documents must not make a block larger than an object
// may be (INDEX_LIMITS.maxObjectBytes), or the build would fail when its manifest is checked.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { createObjectStore } from "../../../offline/build/object-store.ts";
import { createDocBlockWriter } from "../../../offline/build/writers.ts";
import { decodeDocBlock } from "../../../src/format/index.ts";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

it("cuts a block before it passes maxBlockBytes; a document larger than that is a block of its own", async () => {
  const dir = await mkdtemp(join(tmpdir(), "i3-docblocks-"));
  dirs.push(dir);
  const store = createObjectStore(dir);
  const blocks: Array<{ first: number; count: number; path: string }> = [];
  const w = createDocBlockWriter({ store, docsPerBlock: 100, maxBlockBytes: 1000, onBlock: (b) => void blocks.push(b) });
  const sizes = [300, 300, 300, 300, 2500, 10, 10];
  for (const [i, n] of sizes.entries()) await w.add({ id: `d${i}`, text: "x".repeat(n) });
  await w.finish();
  expect(blocks.map((b) => [b.first, b.count])).toEqual([[0, 3], [3, 1], [4, 1], [5, 2]]);
  const docs = (await Promise.all(blocks.map(async (b) => decodeDocBlock(await store.read(b as never))))).flat();
  expect(docs.map((d: { id: string }) => d.id)).toEqual(sizes.map((_, i) => `d${i}`));
});
