// The index limits at publish through the worker (issue #13, defect 1): an object over the size limit is 413 before
// any byte is stored, a manifest over the limits is 400 `invalid_manifest`, and a manifest is accepted only when each
// object it names is stored with the size it gives.
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { INDEX_LIMITS, objectKey, sha256Hex, versionIdOf } from "../../src/format";
import { FIXTURE_INDEX, bucket, createKey, repoFile } from "./helpers";

const TENANT = "limitco";
let publishKey: string;
let manifest: any;

const put = (index: string, path: string, body: BodyInit, headers: Record<string, string> = {}) =>
  exports.default.fetch(`http://worker/v1/tenants/${TENANT}/indexes/${index}/${path}`, {
    method: "PUT", body, headers: { authorization: `Bearer ${publishKey}`, ...headers },
  });

async function putManifest(index: string, m: unknown): Promise<{ status: number; error: { code: string; message: string } }> {
  const bytes = new TextEncoder().encode(JSON.stringify(m));
  const res = await put(index, `manifests/${versionIdOf(await sha256Hex(bytes))}`, bytes);
  return { status: res.status, error: ((await res.json()) as any).error };
}

/** The fixture's objects, stored under `index` as R2 holds them. */
async function storeObjects(index: string): Promise<void> {
  for (const o of manifest.objects) await bucket.put(objectKey(TENANT, index, o.path), await repoFile(`${FIXTURE_INDEX}/${o.path}`));
}

beforeAll(async () => {
  publishKey = await createKey(TENANT, ["publish"]);
  manifest = JSON.parse(new TextDecoder().decode(await repoFile(`${FIXTURE_INDEX}/manifest.json`)));
});

describe("limits at publish", () => {
  it("an object upload over the object size limit -> 413 payload_too_large from its Content-Length, nothing stored", async () => {
    const name = `objects/${"a".repeat(64)}.bin`;
    const res = await put("big", name, new Uint8Array(INDEX_LIMITS.maxObjectBytes + 1));
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe("payload_too_large");
    expect(await bucket.head(objectKey(TENANT, "big", name))).toBeNull();
  });

  it("a manifest with an object over the size limit -> 400 invalid_manifest naming the limit", async () => {
    const m = structuredClone(manifest);
    m.objects[0].bytes = INDEX_LIMITS.maxObjectBytes + 1;
    const r = await putManifest("over", m);
    expect(r.status).toBe(400);
    expect(r.error.code).toBe("invalid_manifest");
    expect(r.error.message).toContain(`0..${INDEX_LIMITS.maxObjectBytes}`);
  });

  it("a manifest whose objects are stored with other sizes -> 409 missing_objects naming them; the right sizes -> 201", async () => {
    await storeObjects("sizes");
    const vocab = manifest.model.vocab;
    // The vocab stored with a byte more than the manifest says.
    const bytes = await repoFile(`${FIXTURE_INDEX}/${vocab.path}`);
    const longer = new Uint8Array(bytes.byteLength + 1);
    longer.set(bytes);
    await bucket.put(objectKey(TENANT, "sizes", vocab.path), longer);
    const bad = await putManifest("sizes", manifest);
    expect(bad.status).toBe(409);
    expect(bad.error.code).toBe("missing_objects");
    expect(bad.error.message).toContain(`${vocab.path} (stored with ${vocab.bytes + 1} bytes, not ${vocab.bytes})`);
    await bucket.put(objectKey(TENANT, "sizes", vocab.path), bytes);
    expect((await putManifest("sizes", manifest)).status).toBe(201);
  });

  it("a manifest of more objects than are checked one HEAD each is checked by listing: same answers", async () => {
    await storeObjects("many");
    const m = structuredClone(manifest);
    const extra = Array.from({ length: 300 }, (_, i) => ({ path: `objects/${i.toString(16).padStart(64, "0")}.bin`, bytes: 3 + (i % 5) }));
    for (const o of extra) await bucket.put(objectKey(TENANT, "many", o.path), new Uint8Array(o.bytes));
    m.objects.push(...extra.map((o) => ({ path: o.path, kind: "extra", bytes: o.bytes, sha256: o.path.slice(8, 72) })));
    const wrong = extra[150];
    await bucket.put(objectKey(TENANT, "many", wrong.path), new Uint8Array(wrong.bytes + 2));
    const bad = await putManifest("many", m);
    expect([bad.status, bad.error.code], bad.error.message).toEqual([409, "missing_objects"]);
    expect(bad.error.message).toContain(`${wrong.path} (stored with ${wrong.bytes + 2} bytes, not ${wrong.bytes})`);
    await bucket.put(objectKey(TENANT, "many", wrong.path), new Uint8Array(wrong.bytes));
    const ok = await putManifest("many", m);
    expect(ok.status, JSON.stringify(ok.error)).toBe(201);
  });
});
