// Body limits of bodies that do not declare their length (chunked): the worker counts bytes as they stream and stops
// at the route's limit, without reading the rest, for the search route and the admin routes alike.
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { LIMITS } from "../../src/worker/routes/search-request";
import { ADMIN_LIMITS } from "../../src/worker/routes/admin";
import { createKey } from "./helpers";

const TENANT = "bodyco";
const base = `http://worker/v1/tenants/${TENANT}/indexes/docs`;
let searchKey: string, publishKey: string;

beforeAll(async () => {
  searchKey = await createKey(TENANT, ["search"]);
  publishKey = await createKey(TENANT, ["publish"]);
});

/** A body of `total` bytes of spaces in 64 KiB chunks, produced only as the reader pulls; `pulled()` says how many were. */
function chunked(total: number) {
  const chunk = 64 * 1024;
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (pulled >= total) return ctrl.close();
      pulled += chunk;
      ctrl.enqueue(new Uint8Array(chunk).fill(0x20));
    },
  });
  return { stream, pulled: () => pulled };
}

async function send(method: string, url: string, key: string, total: number) {
  const body = chunked(total);
  const res = await exports.default.fetch(url, { method, body: body.stream, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" } });
  return { status: res.status, body: (await res.json()) as any, pulled: body.pulled() };
}

describe("a chunked body over the limit", () => {
  it("search: 413 payload_too_large, read no further than the limit, no size claimed", async () => {
    const total = 32 * 1024 * 1024;
    const r = await send("POST", `${base}/search`, searchKey, total);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
    expect(r.body.error.message).toContain(String(LIMITS.maxBodyBytes));
    expect(r.body.error.message).not.toContain(String(total));
    expect(r.pulled).toBeLessThan(4 * 1024 * 1024);
  });

  it("PUT current (admin, JSON): 413 payload_too_large, read no further than the limit", async () => {
    const total = 32 * 1024 * 1024;
    const r = await send("PUT", `${base}/current`, publishKey, total);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
    expect(r.body.error.message).toContain(String(ADMIN_LIMITS.maxPointerBytes));
    expect(r.pulled).toBeLessThan(4 * 1024 * 1024);
  });

  it("PUT manifests (admin, bytes): 413 payload_too_large, read no further than the limit", async () => {
    const total = 4 * ADMIN_LIMITS.maxManifestBytes;
    const r = await send("PUT", `${base}/manifests/0123456789abcdef`, publishKey, total);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("payload_too_large");
    expect(r.body.error.message).not.toContain(String(total));
    expect(r.pulled).toBeLessThan(ADMIN_LIMITS.maxManifestBytes + 4 * 1024 * 1024);
  });
});

describe("a chunked body within the limit", () => {
  it("search reads it whole: the request is judged on its JSON (here: not a search body)", async () => {
    const body = new Blob(['{"query": 5}']).stream();
    const res = await exports.default.fetch(`${base}/search`, { method: "POST", body, headers: { authorization: `Bearer ${searchKey}` } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe("invalid_request");
  });
});
