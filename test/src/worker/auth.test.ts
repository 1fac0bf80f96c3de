// API keys in Node: key format, hashing, the isolate key cache (revocation bound), the token bucket, and the
// middleware's AUTH switch. The same middleware against workerd and the R2 simulator: test/worker/auth.test.ts.
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  clientOf, constantTimeEqual, createFailureLimiter, createKeyCache, createRateLimiter, generateApiKey, hashApiKey, keyMatches, keyRecordKey,
  parseApiKey, requireKey,
} from "../../../src/worker/auth";
import { ApiError, errorBody, toApiError } from "../../../src/worker/http-error";

describe("key format and records", () => {
  it("parses i3_<tenant>_<keyid>_<secret>, tenants with _ and - included", async () => {
    const { key, record } = await generateApiKey("my_te-nant", ["search"]);
    expect(key).toMatch(/^i3_my_te-nant_[0-9a-f]{16}_[0-9a-f]{64}$/);
    expect(parseApiKey(key)).toEqual({ tenant: "my_te-nant", keyId: record.id });
    for (const bad of ["", "i3_", "i3_acme_0123456789abcdef_short", `i3_Acme_0123456789abcdef_${"a".repeat(64)}`, `x3_acme_0123456789abcdef_${"a".repeat(64)}`]) {
      expect(parseApiKey(bad)).toBeNull();
    }
    expect(keyRecordKey("acme", record.id)).toBe(`tenants/acme/keys/${record.id}.json`);
  });

  it("stores only the SHA-256; the key matches its record, nothing else does; a revoked key matches nothing", async () => {
    const { key, record } = await generateApiKey("acme", ["search", "search", "publish"]);
    expect(record.roles).toEqual(["search", "publish"]);
    expect(JSON.stringify(record)).not.toContain(key.slice(-64));
    expect(record.hash).toBe(await hashApiKey(key));
    expect(await keyMatches(record, key)).toBe(true);
    expect(await keyMatches(record, key.slice(0, -1) + (key.endsWith("0") ? "1" : "0"))).toBe(false);
    expect(await keyMatches({ ...record, revokedAt: new Date().toISOString() }, key)).toBe(false);
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "abcd")).toBe(false);
  });
});

describe("key cache", () => {
  it("reads a record once per TTL, so a revoke is seen within the TTL", async () => {
    const { record } = await generateApiKey("acme", ["search"]);
    let stored: any = record;
    let reads = 0;
    const bucket = { get: async () => (reads++, { json: async () => stored }) } as unknown as R2Bucket;
    let t = 0;
    const cache = createKeyCache({ ttlMs: 30_000, now: () => t });
    expect((await cache.get(bucket, "acme", record.id))?.revokedAt).toBeUndefined();
    stored = { ...record, revokedAt: "2026-01-01T00:00:00Z" };
    t = 29_999;
    expect((await cache.get(bucket, "acme", record.id))?.revokedAt).toBeUndefined();
    expect(reads).toBe(1);
    t = 30_000;
    expect((await cache.get(bucket, "acme", record.id))?.revokedAt).toBe("2026-01-01T00:00:00Z");
    expect(reads).toBe(2);
  });

  it("a record filed under another tenant or id, or one that does not parse, counts as absent", async () => {
    const { record } = await generateApiKey("acme", ["search"]);
    const bucket = (json: unknown) => ({ get: async () => ({ json: async () => json }) }) as unknown as R2Bucket;
    const cache = () => createKeyCache({ ttlMs: 0 });
    expect(await cache().get(bucket(record), "other", record.id)).toBeNull();
    expect(await cache().get(bucket({ ...record, roles: ["root"] }), "acme", record.id)).toBeNull();
    expect(await cache().get({ get: async () => null } as unknown as R2Bucket, "acme", record.id)).toBeNull();
  });
});

describe("key cache: absent ids", () => {
  /** A bucket holding `records` by R2 key, counting reads. */
  const store = (records: Array<{ tenant: string; id: string }>) => {
    const byKey = new Map(records.map((r) => [keyRecordKey(r.tenant, r.id), r]));
    const reads: string[] = [];
    const bucket = {
      get: async (key: string) => (reads.push(key), byKey.has(key) ? { json: async () => byKey.get(key) } : null),
    } as unknown as R2Bucket;
    return { bucket, reads };
  };

  it("are remembered apart, bounded: a flood of made-up ids never pushes a real record out", async () => {
    const { record } = await generateApiKey("acme", ["search"]);
    const { bucket, reads } = store([record]);
    const cache = createKeyCache({ ttlMs: 30_000, maxEntries: 2, maxAbsent: 3, now: () => 0 });
    expect(await cache.get(bucket, "acme", record.id)).toEqual(record);
    for (let i = 0; i < 100; i++) expect(await cache.get(bucket, "acme", i.toString(16).padStart(16, "0"))).toBeNull();
    expect(await cache.get(bucket, "acme", record.id)).toEqual(record);
    expect(reads.filter((k) => k.includes(record.id))).toHaveLength(1); // still cached: not read again
    expect(cache.sizes()).toEqual({ records: 1, absent: 3 });
  });

  it("an absent id costs one read per TTL; concurrent misses share it; an R2 error is not remembered", async () => {
    let t = 0;
    const { bucket, reads } = store([]);
    const cache = createKeyCache({ ttlMs: 30_000, now: () => t });
    const id = "00000000000000ff";
    await Promise.all([cache.get(bucket, "acme", id), cache.get(bucket, "acme", id), cache.get(bucket, "acme", id)]);
    expect(reads).toHaveLength(1);
    t = 29_999;
    expect(await cache.get(bucket, "acme", id)).toBeNull();
    expect(reads).toHaveLength(1);
    t = 30_000;
    await cache.get(bucket, "acme", id);
    expect(reads).toHaveLength(2);
    let fail = true;
    const flaky = { get: async () => { if (fail) throw new Error("R2 down"); return null; } } as unknown as R2Bucket;
    await expect(cache.get(flaky, "acme", "00000000000000aa")).rejects.toMatchObject({ status: 503, code: "storage_unavailable" });
    fail = false;
    expect(await cache.get(flaky, "acme", "00000000000000aa")).toBeNull();
  });
});

describe("failed authentications per client", () => {
  it("a burst of AUTH_FAILURES_PER_MINUTE, then one per 60/N s; clients apart; no header: one shared bucket", async () => {
    let t = 0;
    const failures = createFailureLimiter({ now: () => t });
    const env = { AUTH_FAILURES_PER_MINUTE: "2" } as any;
    const a = clientOf("198.51.100.1");
    expect(failures.check(env, a).ok).toBe(true);
    await failures.fail(env, a);
    expect(failures.check(env, a).ok).toBe(true); // check takes nothing
    await failures.fail(env, a);
    expect(failures.check(env, a)).toEqual({ ok: false, retryAfterS: 30 });
    expect(failures.check(env, clientOf("198.51.100.2")).ok).toBe(true);
    expect(clientOf(undefined)).toBe(clientOf(""));
    t = 30_000;
    expect(failures.check(env, a).ok).toBe(true);
    // A value that is not a positive whole number is a configuration error (500 config_error), never "no limit".
    const bad = { AUTH_FAILURES_PER_MINUTE: "abc" } as any;
    expect(() => failures.check(bad, "x")).toThrow(/AUTH_FAILURES_PER_MINUTE/);
  });

  it("the Rate Limiting binding, when configured, blocks a client it refuses for a minute; its failure is not the request's", async () => {
    let t = 0;
    const failures = createFailureLimiter({ now: () => t });
    const calls: string[] = [];
    const binding = { limit: async ({ key }: { key: string }) => (calls.push(key), { success: calls.length < 2 }) };
    const env = { AUTH_FAILURES_PER_MINUTE: "100", AUTH_FAILURE_LIMITER: binding } as any;
    await failures.fail(env, "ip:a");
    expect(failures.check(env, "ip:a").ok).toBe(true);
    await failures.fail(env, "ip:a");
    expect(failures.check(env, "ip:a")).toEqual({ ok: false, retryAfterS: 60 });
    expect(calls).toEqual(["ip:a", "ip:a"]);
    t = 60_000;
    expect(failures.check(env, "ip:a").ok).toBe(true);
    const broken = { ...env, AUTH_FAILURE_LIMITER: { limit: async () => { throw new Error("binding down"); } } };
    await expect(failures.fail(broken, "ip:b")).resolves.toBeUndefined();
  });
});

describe("token bucket (per isolate)", () => {
  it("allows the burst, then rps, and says when to retry", () => {
    let t = 0;
    const limiter = createRateLimiter({ now: () => t });
    const lim = { rps: 2, burst: 2 };
    expect(limiter.take("k", lim).ok).toBe(true);
    expect(limiter.take("k", lim).ok).toBe(true);
    expect(limiter.take("k", lim)).toEqual({ ok: false, retryAfterS: 1 });
    expect(limiter.take("other", lim).ok).toBe(true);
    t = 500;
    expect(limiter.take("k", lim).ok).toBe(true);
    expect(limiter.take("k", lim).ok).toBe(false);
    expect(createRateLimiter({ now: () => 0 }).take("slow", { rps: 0.1 }).ok).toBe(true);
  });

  it("holds at most maxEntries buckets, the least recently used dropped", () => {
    const limiter = createRateLimiter({ now: () => 0, maxEntries: 2 });
    const lim = { rps: 1, burst: 1 };
    expect(limiter.take("a", lim).ok).toBe(true);
    expect(limiter.take("b", lim).ok).toBe(true);
    expect(limiter.peek("a", lim).ok).toBe(false); // a is now the most recent
    limiter.take("c", lim); // drops b
    expect(limiter.peek("a", lim).ok).toBe(false);
    expect(limiter.peek("b", lim).ok).toBe(true); // a new, full bucket
  });
});

describe("requireKey middleware", () => {
  const app = new Hono<{ Bindings: any }>();
  app.use("/v1/tenants/:tenant/indexes/:index/search", requireKey("search"));
  app.post("/v1/tenants/:tenant/indexes/:index/search", (c) => c.json({ ok: true }));
  app.onError((err, c) => {
    const e = err instanceof ApiError ? err : toApiError(err);
    return e.code === "internal" ? c.text("boom", 500) : c.json(errorBody(e.code, e.message), e.status, e.headers);
  });
  const call = (env: Record<string, unknown>) => app.request("/v1/tenants/acme/indexes/docs/search", { method: "POST", body: "{}" }, env);

  it("is on by default and only AUTH=off turns it off", async () => {
    const bucket = { get: async () => null };
    const on = await call({ INDEXES: bucket });
    expect(on.status).toBe(401);
    expect(on.headers.get("www-authenticate")).toBe('Bearer realm="i3"');
    // Any other value is a configuration error (fails closed, naming the var), never auth off.
    const misspelt = await call({ INDEXES: bucket, AUTH: "false" });
    expect(misspelt.status).toBe(500);
    expect(await misspelt.json()).toMatchObject({ error: { code: "config_error", message: expect.stringContaining("AUTH") } });
    expect((await call({ INDEXES: bucket, AUTH: "off" })).status).toBe(200);
  });
});
