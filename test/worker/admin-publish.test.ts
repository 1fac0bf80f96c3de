// Publishing through the worker's admin routes (`i3 publish --to worker`), driven by the worker target over the
// worker's real fetch handler: objects, manifest, conditional pointer; then a search key finds the new version.
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { manifestKey, objectKey, pointerKey, serializePointer, sha256Hex, versionIdOf } from "../../src/format";
import { readPointer, writePointer } from "../../offline/publish/pointer";
import { isPublishError } from "../../offline/publish/target";
import { adminPath, createWorkerTarget } from "../../offline/publish/worker-target";
import { FIXTURE_INDEX, bucket, createKey, repoFile, search } from "./helpers";

const TENANT = "pubco";
const INDEX = "docs";
const Q = { query: "vitamin D and bone density", k: 3 };
const fetchWorker = (input: string, init?: RequestInit) => exports.default.fetch(input, init);
const base = `http://worker/v1/tenants/${TENANT}/indexes/${INDEX}`;
let publishKey: string, searchKey: string;
let manifestBytes: Uint8Array;
let manifest: { objects: Array<{ path: string; bytes: number; sha256: string }> };

const target = (apiKey: string) => createWorkerTarget({ baseUrl: "http://worker", apiKey, fetch: fetchWorker, attempts: 1 });
const put = (path: string, body: BodyInit, key: string, headers: Record<string, string> = {}) =>
  fetchWorker(`${base}/${path}`, { method: "PUT", body, headers: { authorization: `Bearer ${key}`, ...headers } });
const code = async (res: Response) => ((await res.json()) as any).error.code;

beforeAll(async () => {
  publishKey = await createKey(TENANT, ["publish"]);
  searchKey = await createKey(TENANT, ["search"]);
  manifestBytes = await repoFile(`${FIXTURE_INDEX}/manifest.json`);
  manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
});

describe("publishing through the worker", () => {
  it("maps R2 keys to admin routes", () => {
    const sha = "a".repeat(64);
    expect(adminPath(objectKey("t", "i", `objects/${sha}.i3vs`))).toBe(`/v1/tenants/t/indexes/i/objects/${sha}.i3vs`);
    expect(adminPath(manifestKey("t", "i", "0123456789abcdef"))).toBe("/v1/tenants/t/indexes/i/manifests/0123456789abcdef");
    expect(adminPath(pointerKey("t", "i"))).toBe("/v1/tenants/t/indexes/i/current");
    expect(() => adminPath("tenants/t/indexes/i/../x")).toThrow(/cannot address/);
  });

  it("a publish key uploads objects, the manifest and the pointer; a search key then finds the version", async () => {
    const t = target(publishKey);
    const start = await readPointer(t, TENANT, INDEX);
    expect(start).toBeNull();
    for (const o of manifest.objects) {
      const key = objectKey(TENANT, INDEX, o.path);
      expect(await t.head(key)).toBeNull();
      await t.put(key, await repoFile(`${FIXTURE_INDEX}/${o.path}`));
      const head = await t.head(key);
      expect(head?.size).toBe(o.bytes);
      // Last-Modified: what gc's grace period reads (second resolution)
      expect(Math.abs(head!.uploaded!.getTime() - Date.now())).toBeLessThan(60_000);
    }
    // Idempotent: the same object again is fine.
    const first = manifest.objects[0];
    await t.put(objectKey(TENANT, INDEX, first.path), await repoFile(`${FIXTURE_INDEX}/${first.path}`));

    const sha256 = await sha256Hex(manifestBytes);
    const version = versionIdOf(sha256);
    const mKey = manifestKey(TENANT, INDEX, version);
    await t.put(mKey, manifestBytes, { contentType: "application/json" });
    expect((await t.head(mKey))?.size).toBe(manifestBytes.byteLength);

    await writePointer(t, TENANT, INDEX, { version, manifest: mKey, publishedAt: new Date().toISOString(), sha256 }, null);
    const now = await readPointer(t, TENANT, INDEX);
    expect(now?.pointer?.version).toBe(version);
    expect(now?.etag).toMatch(/\S/);
    expect(await (await bucket.get(pointerKey(TENANT, INDEX)))!.text()).toContain(version);

    const r = await search(TENANT, INDEX, Q, { key: searchKey });
    expect(r.status).toBe(200);
    expect(r.body.version).toBe(version);
    expect(r.body.results.length).toBeGreaterThan(0);
  });

  it("a search key cannot publish (403 forbidden), no key is 401; the target reports auth", async () => {
    const o = manifest.objects[0];
    const bytes = await repoFile(`${FIXTURE_INDEX}/${o.path}`);
    const res = await put(o.path, bytes, searchKey);
    expect(res.status).toBe(403);
    expect(await code(res)).toBe("forbidden");
    expect((await fetchWorker(`${base}/current`)).status).toBe(401);
    await expect(target(searchKey).put(objectKey(TENANT, INDEX, o.path), bytes)).rejects.toSatisfy((e) => isPublishError(e, "auth"));
  });

  it("objects stream to R2, which checks their sha256: a 3 MB object is stored exactly; same length, other bytes -> 400", async () => {
    const bytes = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
    const path = `objects/${await sha256Hex(bytes)}.bin`;
    const key = objectKey(TENANT, INDEX, path);
    const tampered = bytes.slice();
    tampered[1_000_000] ^= 1;
    const bad = await put(path, tampered, publishKey);
    expect(bad.status).toBe(400);
    expect(await code(bad)).toBe("checksum_mismatch");
    expect(await bucket.head(key)).toBeNull();
    const ok = await put(path, bytes, publishKey);
    expect(ok.status).toBe(201);
    const stored = await bucket.get(key);
    expect(await sha256Hex(new Uint8Array(await stored!.arrayBuffer()))).toBe(path.slice(8, 72));
    const again = await put(path, bytes, publishKey);
    expect([again.status, ((await again.json()) as any).created]).toEqual([200, false]);
  });

  it("an object upload without Content-Length -> 411 length_required", async () => {
    const bytes = new TextEncoder().encode("streamed without a length");
    const stream = new ReadableStream({ start: (ctl) => (ctl.enqueue(bytes), ctl.close()) });
    const res = await put(`objects/${await sha256Hex(bytes)}.bin`, stream, publishKey);
    expect(res.status).toBe(411);
    expect(await code(res)).toBe("length_required");
  });

  it("a body whose sha256 is not the name's -> 400 checksum_mismatch; a bad name -> 400 invalid_name", async () => {
    const bytes = new TextEncoder().encode("not what the name says");
    const res = await put(`objects/${"0".repeat(64)}.bin`, bytes, publishKey);
    expect(res.status).toBe(400);
    expect(await code(res)).toBe("checksum_mismatch");
    expect(await bucket.head(objectKey(TENANT, INDEX, `objects/${"0".repeat(64)}.bin`))).toBeNull();
    const bad = await put("objects/..%2F..%2Fx.bin", bytes, publishKey);
    expect(bad.status).toBe(400);
    expect(await code(bad)).toBe("invalid_name");
    const wrongVersion = await put("manifests/0000000000000000", manifestBytes, publishKey);
    expect(wrongVersion.status).toBe(400);
    expect(await code(wrongVersion)).toBe("checksum_mismatch");
  });

  it("a manifest naming an object not uploaded -> 409 missing_objects", async () => {
    const other = "other";
    const k = await createKey(TENANT, ["publish"]);
    const res = await fetchWorker(`http://worker/v1/tenants/${TENANT}/indexes/${other}/manifests/${versionIdOf(await sha256Hex(manifestBytes))}`, {
      method: "PUT",
      body: manifestBytes,
      headers: { authorization: `Bearer ${k}` },
    });
    expect(res.status).toBe(409);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("missing_objects");
    expect(body.error.message).toContain("objects/");
  });

  it("two PUT current with the same If-Match etag: one 200, one 412 conflict", async () => {
    const cur = await fetchWorker(`${base}/current`, { headers: { authorization: `Bearer ${publishKey}` } });
    expect(cur.status).toBe(200);
    const etag = cur.headers.get("etag")!;
    expect(etag).toBeTruthy();
    const pointer = JSON.parse(await cur.text());
    const body = (t: string) => serializePointer({ ...pointer, publishedAt: t });
    const a = await put("current", body(new Date(1).toISOString()), publishKey, { "if-match": etag, "content-type": "application/json" });
    const b = await put("current", body(new Date(2).toISOString()), publishKey, { "if-match": etag, "content-type": "application/json" });
    expect([a.status, b.status]).toEqual([200, 412]);
    expect(await code(b)).toBe("conflict");
    expect(a.headers.get("etag")).not.toBe(etag);
    // If-None-Match: * on an existing pointer fails too, and the target maps 412 to precondition_failed.
    const c = await put("current", body(new Date(3).toISOString()), publishKey, { "if-none-match": "*" });
    expect(c.status).toBe(412);
    await expect(
      target(publishKey).put(pointerKey(TENANT, INDEX), new TextEncoder().encode(body(new Date(4).toISOString())), { ifMatch: etag }),
    ).rejects.toSatisfy((e) => isPublishError(e, "precondition_failed"));
    // Without a condition: 428.
    expect((await put("current", body(new Date(5).toISOString()), publishKey)).status).toBe(428);
  });

  it("list and delete are not offered through the worker", async () => {
    const t = target(publishKey);
    await expect(t.delete(pointerKey(TENANT, INDEX))).rejects.toSatisfy((e) => isPublishError(e, "config"));
    await expect(t.list("tenants/")[Symbol.asyncIterator]().next()).rejects.toSatisfy((e) => isPublishError(e, "config"));
  });
});
