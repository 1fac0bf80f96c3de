// A version that cannot be loaded, through the worker's routes (pointer TTL 0: the pointer is read on every request):
// the good version keeps serving, the failed one is not downloaded again within its back-off, and with nothing good
// cached the answer is a coded 503 with Retry-After, never a 500. The same at the registry, with R2 faults:
// test/worker/registry.test.ts.
import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_INDEX, publishBuildDir, search } from "./helpers";
import { brokenModelObjects, publishManifest, withModelObjects } from "./variants";

let v1: { version: string; manifest: any };

beforeAll(async () => {
  v1 = await publishBuildDir(FIXTURE_INDEX, "faults", "docs");
});

describe("a version whose query encoder cannot be loaded", () => {
  it("never replaces the good version, and is not downloaded again on the next requests", async () => {
    expect((await search("faults", "docs", { query: "vitamin D", k: 3 })).body.version).toBe(v1.version);
    const cases = await brokenModelObjects(v1.manifest, FIXTURE_INDEX);
    expect(cases).toHaveLength(4);
    for (const [what, replacements] of cases) {
      const version = await publishManifest("faults", "docs", await withModelObjects(v1.manifest, replacements, "faults", "docs"));
      expect(version, what).not.toBe(v1.version);
      const first = await search("faults", "docs", { query: `bone density ${what}`, k: 3 });
      expect([first.status, first.body.version], what).toEqual([200, v1.version]);
      expect(first.body.reads.r2, what).toBeGreaterThan(0); // the new manifest and model were read, and failed
      for (let i = 0; i < 3; i++) {
        const again = await search("faults", "docs", { query: `bone density ${what}`, k: 3 });
        expect([again.status, again.body.version], what).toEqual([200, v1.version]);
        expect(again.body.reads, what).toEqual({ r2: 0, colo: 0, pointer: 1 }); // only the pointer
      }
    }
  });

  it("with no good version cached: 503 index_unavailable with Retry-After, never 500, the detail only in the log", async () => {
    const cases = await brokenModelObjects(v1.manifest, FIXTURE_INDEX);
    for (const [i, [what, replacements]] of cases.entries()) {
      await publishBuildDir(FIXTURE_INDEX, "faults", `fresh-${i}`);
      await publishManifest("faults", `fresh-${i}`, await withModelObjects(v1.manifest, replacements, "faults", `fresh-${i}`));
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await search("faults", `fresh-${i}`, { query: "cancer", k: 3 });
        expect([r.status, r.body.error?.code], what).toEqual([503, "index_unavailable"]);
        expect(Number(r.headers.get("retry-after")), what).toBeGreaterThanOrEqual(1);
        expect(r.body.error.message, what).not.toMatch(/objects\/|[0-9a-f]{16}/);
      }
    }
  });
});
