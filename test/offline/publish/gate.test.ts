// `i3 publish --gate`: a build is evaluated offline with the worker's search code before anything is uploaded;
// a regression is refused (exit 1) and the version already published keeps serving (the pointer is untouched).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildIndex } from "../../../offline/build/build.ts";
import { createLocalR2Target, readPointer, runPublishCommand, type PublishTarget } from "../../../offline/publish/index.ts";
import { loadBuild } from "../../../offline/publish/publish.ts";
import { evaluateBuild } from "../../../offline/publish/gate.ts";
import { smokeSearch } from "../../../offline/publish/smoke.ts";
import { manifestKey } from "../../../src/format/r2-keys.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const BEIR = path.join(ROOT, "test/fixtures/beir-tiny");
let tmp: string, persist: string, good: string, bad: string, target: PublishTarget;

async function build(out: string, corpus: string) {
  await buildIndex({ corpus, model: path.join(BEIR, "model"), out, device: "cpu", stderr: { write: () => true } });
  return out;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-gate-"));
  persist = path.join(tmp, "state");
  good = await build(path.join(tmp, "good"), path.join(BEIR, "corpus.jsonl"));
  // The same ids with their texts rotated: a build that ranks the wrong documents.
  const docs = (await readFile(path.join(BEIR, "corpus.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l));
  const rotated = docs.map((d, i) => ({ ...docs[(i + 1) % docs.length], _id: d._id }));
  await writeFile(path.join(tmp, "bad.jsonl"), rotated.map((d) => JSON.stringify(d)).join("\n") + "\n");
  bad = await build(path.join(tmp, "bad"), path.join(tmp, "bad.jsonl"));
  target = createLocalR2Target({ persistTo: persist });
});
afterAll(async () => {
  await target?.close?.();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function publish(dir: string, ...flags: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runPublishCommand([dir, "--tenant", "acme", "--index", "docs", "--to", "local", "--persist-to", persist, ...flags], {
    out: (l) => out.push(l), err: (l) => err.push(l), cwd: tmp, env: {},
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("i3 publish --gate", () => {
  it("the bad build scores lower than the good one (the fixture does what the test needs)", async () => {
    const g = await evaluateBuild(good, BEIR);
    const b = await evaluateBuild(bad, BEIR);
    expect(g.queries).toBe(3);
    expect(g.ndcg).toBeGreaterThan(b.ndcg + 0.1); // 1.000 vs 0.798 (hybrid, the default fusion)
  });

  it("publishes a build that passes, refuses one that regresses, and the old version keeps the pointer", async () => {
    const ok = await publish(good, "--gate", BEIR, "--min-ndcg", "0.9", "--max-drop", "0.02");
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/gate passed: nDCG@10 (0\.9\d+|1\.0000) over 3 queries/);
    const before = (await readPointer(target, "acme", "docs"))!.pointer!.version;

    const refused = await publish(bad, "--gate", BEIR, "--max-drop", "0.02");
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/gate refused .*nDCG@10 0\.\d{4} is 0\.\d{4} below the current version [0-9a-f]{16} \((0\.9\d{3}|1\.0000)\); --max-drop 0\.02/);
    expect(refused.err).toContain("the pointer is unchanged");
    expect((await readPointer(target, "acme", "docs"))!.pointer!.version).toBe(before);
    expect(await target.head(manifestKey("acme", "docs", (await loadBuild(bad)).version))).toBeNull(); // nothing uploaded

    const floor = await publish(bad, "--gate", BEIR, "--min-ndcg", "0.9");
    expect(floor.code).toBe(1);
    expect(floor.err).toMatch(/nDCG@10 0\.\d{4} < --min-ndcg 0\.9/);
    expect((await readPointer(target, "acme", "docs"))!.pointer!.version).toBe(before);
  });

  it("bad usage exits 2", async () => {
    expect((await publish(good, "--gate", BEIR)).code).toBe(2);
    expect((await publish(good, "--min-ndcg", "0.5")).code).toBe(2);
    expect((await publish(good, "--gate", BEIR, "--max-drop", "-1")).code).toBe(2);
  });
});

describe("smoke search after the pointer moved", () => {
  const answer = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });

  it("waits until the endpoint serves the new version, with the API key", async () => {
    const seen: Array<string | null> = [];
    const replies = [answer(200, { version: "old", results: [{}] }), answer(200, { version: "new1234567890abc", results: [{}, {}] })];
    const fetch = (async (_url: string, init: RequestInit) => {
      seen.push(new Headers(init.headers).get("authorization"));
      return replies.shift()!;
    }) as unknown as typeof globalThis.fetch;
    const r = await smokeSearch("http://x/", "acme", "docs", "new1234567890abc", { apiKey: "k", fetch, intervalMs: 1 });
    expect(r.ok).toBe(true);
    expect(seen).toEqual(["Bearer k", "Bearer k"]);
  });

  it("fails at once on 401/403, and after the deadline when the version never appears", async () => {
    const unauthorized = (async () => answer(401, { error: { code: "invalid_credentials" } })) as unknown as typeof fetch;
    expect(await smokeSearch("http://x", "a", "b", "v", { fetch: unauthorized })).toEqual({ ok: false, message: "http://x/v1/tenants/a/indexes/b/search: HTTP 401 invalid_credentials" });
    const stale = (async () => answer(200, { version: "old", results: [{}] })) as unknown as typeof fetch;
    const r = await smokeSearch("http://x", "a", "b", "v", { fetch: stale, timeoutMs: 20, intervalMs: 5 });
    expect(r.ok).toBe(false);
    expect(r.message).toContain("serves version old");
  });
});
