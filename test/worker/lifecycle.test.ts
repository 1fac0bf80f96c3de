// Publishing lifecycle as the worker sees it: an upload stopped midway changes nothing that is served, and
// `rollback` (offline/publish/versions.ts, run here over the R2 binding) brings back the previous results.
import { beforeAll, describe, expect, it } from "vitest";
import { listVersions, rollback } from "../../offline/publish/versions";
import type { PublishTarget } from "../../offline/publish/target";
import { PublishError } from "../../offline/publish/target";
import { manifestKey, pointerKey, sha256Hex, versionIdOf } from "../../src/format";
import { FIXTURE_INDEX, bucket, publishBuildDir, putManifestAndPointer, search } from "./helpers";

const QUERIES = ["vitamin D and bone density", "cancer cells", "insulin resistance in obesity", "DNA repair", "gut microbiome"];
let v1: { version: string; manifest: any };

/** The R2 binding seen through the PublishTarget interface the CLI uses. */
const r2Target: PublishTarget = {
  describe: "workerd R2 binding",
  head: async (key) => {
    const o = await bucket.head(key);
    return o ? { size: o.size, etag: o.etag } : null;
  },
  get: async (key) => {
    const o = await bucket.get(key);
    return o ? { bytes: new Uint8Array(await o.arrayBuffer()), etag: o.etag } : null;
  },
  put: async (key, bytes, opts = {}) => {
    const onlyIf = opts.ifMatch ? { etagMatches: opts.ifMatch } : opts.ifNoneMatch ? new Headers({ "if-none-match": "*" }) : undefined;
    const o = await bucket.put(key, bytes, { onlyIf });
    if (!o) throw new PublishError("precondition_failed", `PUT ${key}: condition did not hold`);
    return { etag: o.etag };
  },
  async *list(prefix) {
    let cursor: string | undefined;
    do {
      const page = await bucket.list({ prefix, cursor });
      for (const o of page.objects) yield o.key;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  },
  delete: (key) => bucket.delete(key),
};

const top = async (index: string) => {
  const out: Array<{ version: string; ids: string[] }> = [];
  for (const query of QUERIES) {
    const r = await search("life", index, { query, k: 5 });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    out.push({ version: r.body.version, ids: r.body.results.map((x: any) => x.id) });
  }
  return out;
};

/** A second version that ranks differently: the same objects, another default search mode. */
function variant(m: any): Uint8Array {
  const other = m.lexical ? { ...m, lexical: { ...m.lexical, defaultMode: m.lexical.defaultMode === "lexical" ? "dense" : "lexical" } } : { ...m, search: { ...m.search, rescore: 5 } };
  return new TextEncoder().encode(JSON.stringify({ ...other, id: "life-v2" }));
}

beforeAll(async () => {
  v1 = await publishBuildDir(FIXTURE_INDEX, "life", "docs");
});

describe("an upload stopped midway", () => {
  it("leaves the old version serving; finishing it moves the worker to the new one", async () => {
    const before = await top("docs");
    expect(before.every((r) => r.version === v1.version)).toBe(true);
    // v2 ranks differently with the same (content-addressed, already present) objects; object PUTs are atomic, so
    // a publish killed during its object phase leaves only whole objects and no manifest: nothing the worker reads.
    const bytes2 = variant(v1.manifest);
    const version2 = versionIdOf(await sha256Hex(bytes2));
    // Killed after the manifest, before the pointer: still the old version, same results.
    await bucket.put(manifestKey("life", "docs", version2), bytes2);
    expect(await top("docs")).toEqual(before);
    // Rerun to the end: the pointer moves last, the worker follows.
    expect(await putManifestAndPointer("life", "docs", bytes2)).toBe(version2);
    expect((await top("docs")).every((r) => r.version === version2)).toBe(true);
  });
});

describe("rollback", () => {
  it("brings back exactly the previous results", async () => {
    await publishBuildDir(FIXTURE_INDEX, "life", "roll");
    const first = await top("roll");
    const v2 = await putManifestAndPointer("life", "roll", variant(v1.manifest));
    const second = await top("roll");
    expect(second.every((r) => r.version === v2)).toBe(true);
    expect(second.map((r) => r.ids)).not.toEqual(first.map((r) => r.ids)); // the variant ranks differently

    const versions = await listVersions(r2Target, "life", "roll");
    expect(versions.map((v) => v.version).sort()).toEqual([v1.version, v2].sort());
    expect(await rollback(r2Target, "life", "roll", v1.version)).toEqual({ from: v2, to: v1.version });
    expect(JSON.parse(await (await bucket.get(pointerKey("life", "roll")))!.text()).version).toBe(v1.version);
    expect(await top("roll")).toEqual(first);
  });
});
