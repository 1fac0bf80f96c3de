// The CI path of an incremental update, against the local R2 (Miniflare): publish a build, `i3 pull` it back,
// `i3 build --base <pulled> --upsert --delete`, publish again: only the delta's objects and the tombstones are
// uploaded, and the pulled copy is the published version, byte for byte.
import { readFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex } from "../../../offline/build/build.ts";
import { updateIndex } from "../../../offline/build/update.ts";
import { createLocalR2Target, publishIndex, type PublishTarget } from "../../../offline/publish/index.ts";
import { runPullCommand } from "../../../offline/publish/pull-cli.ts";
import { pullIndex } from "../../../offline/publish/pull.ts";
import { openBuildDir } from "../../../offline/build/build-dir.ts";

const MODEL = path.resolve(import.meta.dirname, "../../fixtures/corpus-tiny/model");
const quiet = { write: () => true };
let work: string;
let target: PublishTarget;
const at = (p: string) => path.join(work, p);
const doc = (i: number, v = 0) => JSON.stringify({ id: `d${i}`, text: `river stone w${i}v${v} copper ${"violet ".repeat(i % 4)}` });

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "i3-pull-"));
  target = createLocalR2Target({ persistTo: at("state") });
  await writeFile(at("base.jsonl"), Array.from({ length: 60 }, (_, i) => doc(i)).join("\n") + "\n");
  await buildIndex({ corpus: at("base.jsonl"), model: MODEL, out: at("base"), device: "cpu", stderr: quiet, docsPerBlock: 16, partitioning: { partitions: 1 } });
}, 60_000);
afterAll(async () => {
  await target?.close?.();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("pull, update, publish", () => {
  it("uploads only the new objects of an update made from a pulled version", async () => {
    const first = await publishIndex({ buildDir: at("base"), tenant: "ci", index: "docs", target });
    const pulled = await pullIndex({ target, tenant: "ci", index: "docs", out: at("pulled") });
    expect(pulled.version).toBe(first.version);
    expect(await readFile(at("pulled/manifest.json"))).toEqual(await readFile(at("base/manifest.json")));

    await writeFile(at("up.jsonl"), [doc(3, 1), doc(100)].join("\n") + "\n");
    await writeFile(at("del.txt"), "d7\n");
    const s = await updateIndex({ base: at("pulled"), upsert: at("up.jsonl"), delete: at("del.txt"), model: MODEL, out: at("v2"), device: "cpu", stderr: quiet });
    expect(s).toMatchObject({ added: 1, replaced: 1, deleted: 1 });
    const second = await publishIndex({ buildDir: at("v2"), tenant: "ci", index: "docs", target });
    expect(second.previousVersion).toBe(first.version);
    expect(second.uploaded).toBe(s.newObjects);
    expect(second.skipped).toBe(first.uploaded);

    // The next update starts from the published update (its delta is carried, not encoded again).
    await pullIndex({ target, tenant: "ci", index: "docs", out: at("pulled2") });
    await writeFile(at("up2.jsonl"), doc(101) + "\n");
    const s2 = await updateIndex({ base: at("pulled2"), upsert: at("up2.jsonl"), model: MODEL, out: at("v3"), device: "cpu", stderr: quiet });
    expect(s2).toMatchObject({ added: 1, deltaDocuments: 3, tombstoned: 2 });

    // An update made from a version the pointer has moved past is refused before any upload: it would drop v3's
    // changes (here: an update of the first pull, made while v3 went live).
    await publishIndex({ buildDir: at("v3"), tenant: "ci", index: "docs", target });
    await writeFile(at("up3.jsonl"), doc(102) + "\n");
    await updateIndex({ base: at("pulled"), upsert: at("up3.jsonl"), model: MODEL, out: at("stale"), device: "cpu", stderr: quiet });
    await expect(publishIndex({ buildDir: at("stale"), tenant: "ci", index: "docs", target })).rejects.toMatchObject({
      code: "conflict", message: expect.stringContaining("which this build does not descend from"),
    });
    // A chain of updates published at its end goes over any version of the chain.
    await pullIndex({ target, tenant: "ci", index: "docs", out: at("pulled3"), force: true });
    await writeFile(at("up4.jsonl"), doc(103) + "\n");
    await updateIndex({ base: at("pulled3"), upsert: at("up4.jsonl"), model: MODEL, out: at("c1"), device: "cpu", stderr: quiet });
    await updateIndex({ base: at("c1"), upsert: at("up3.jsonl"), model: MODEL, out: at("c2"), device: "cpu", stderr: quiet });
    expect((await publishIndex({ buildDir: at("c2"), tenant: "ci", index: "docs", target })).pointerMoved).toBe(true);
    // An earlier link of the chain no longer goes over it (it would drop c2's changes); the next link does.
    await expect(publishIndex({ buildDir: at("c1"), tenant: "ci", index: "docs", target })).rejects.toMatchObject({ code: "conflict" });
    await writeFile(at("up5.jsonl"), doc(104) + "\n");
    await updateIndex({ base: at("c2"), upsert: at("up5.jsonl"), model: MODEL, out: at("c3"), device: "cpu", stderr: quiet });
    const over = await publishIndex({ buildDir: at("c3"), tenant: "ci", index: "docs", target });
    expect(over.pointerMoved).toBe(true);
    expect(over.previousVersion).toBe((await openBuildDir(at("c2"))).version);
  }, 120_000);

  it("the CLI: a version that does not exist is exit 1, a missing flag exit 2", async () => {
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l), cwd: work, env: {} };
    expect(await runPullCommand(["--tenant", "ci", "--index", "nope", "--out", at("x"), "--to", "local", "--persist-to", at("state")], io)).toBe(1);
    expect(lines.join("\n")).toContain("ci/nope was never published");
    expect(await runPullCommand(["--tenant", "ci", "--index", "docs", "--to", "local", "--persist-to", at("state")], io)).toBe(2);
    expect(lines.join("\n")).toContain("--out");
  }, 60_000);
});
