// API keys through the worker's real fetch handler: credentials, tenant isolation both ways, roles, revocation,
// per-key limits. Key records are written to the R2 simulator as `i3 keys create` writes them.
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { keyRecordKey, parseApiKey, parseKeyRecord } from "../../src/worker/auth";
import { FIXTURE_INDEX, bucket, createKey, publishBuildDir, search } from "./helpers";

const Q = { query: "vitamin D and bone density", k: 3 };
let alpha: string, beta: string;

beforeAll(async () => {
  await publishBuildDir(FIXTURE_INDEX, "alpha", "docs");
  await publishBuildDir(FIXTURE_INDEX, "beta", "docs");
  alpha = await createKey("alpha");
  beta = await createKey("beta");
});

const raw = (headers: Record<string, string>) =>
  exports.default.fetch("http://worker/v1/tenants/alpha/indexes/docs/search", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(Q),
  });

describe("credentials", () => {
  it("no Authorization -> 401 missing_credentials with WWW-Authenticate: Bearer", async () => {
    const res = await raw({});
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(((await res.json()) as any).error.code).toBe("missing_credentials");
  });

  it.each([["Basic dXNlcjpwYXNz"], ["Bearer"], ["Bearer not-a-key"], ["Bearer i3_alpha_xyz_abc"]])("%s -> 401 invalid_credentials", async (h) => {
    const res = await raw({ authorization: h });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect(((await res.json()) as any).error.code).toBe("invalid_credentials");
  });

  it("unknown key id, wrong secret and revoked key all answer the same 401", async () => {
    const { keyId } = parseApiKey(alpha)!;
    const unknown = `i3_alpha_${"0".repeat(16)}_${"a".repeat(64)}`;
    const wrongSecret = `i3_alpha_${keyId}_${"b".repeat(64)}`;
    const revokedKey = await createKey("alpha");
    const rec = parseKeyRecord(await (await bucket.get(keyRecordKey("alpha", parseApiKey(revokedKey)!.keyId)))!.json());
    expect((await search("alpha", "docs", Q, { key: revokedKey })).status).toBe(200);
    await bucket.put(keyRecordKey("alpha", rec.id), JSON.stringify({ ...rec, revokedAt: new Date().toISOString() }));
    const answers = [];
    for (const key of [unknown, wrongSecret, revokedKey]) {
      const r = await search("alpha", "docs", Q, { key });
      answers.push({ status: r.status, body: r.body });
    }
    expect(answers[0]).toEqual({ status: 401, body: { error: { code: "invalid_credentials", message: "invalid or revoked API key" } } });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it("/ and /healthz need no key", async () => {
    expect((await exports.default.fetch("http://worker/")).status).toBe(200);
    expect((await exports.default.fetch("http://worker/healthz")).status).toBe(200);
  });
});

describe("tenant isolation", () => {
  it("each tenant's key searches its own tenant", async () => {
    const a = await search("alpha", "docs", Q, { key: alpha });
    const b = await search("beta", "docs", Q, { key: beta });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.tenant).toBe("alpha");
    expect(b.body.tenant).toBe("beta");
  });

  it("a key of one tenant gets 403 on the other, both ways, exactly as on a tenant that does not exist", async () => {
    const shape = (r: { status: number; body: any }, tenant: string) => ({
      status: r.status,
      code: r.body.error?.code,
      message: r.body.error?.message.replaceAll(tenant, "<t>"),
      keys: Object.keys(r.body),
    });
    const aOnB = shape(await search("beta", "docs", Q, { key: alpha }), "beta");
    const bOnA = shape(await search("alpha", "docs", Q, { key: beta }), "alpha");
    const aOnGhost = shape(await search("ghost", "docs", Q, { key: alpha }), "ghost");
    const aOnBMissingIndex = shape(await search("beta", "nothing", Q, { key: alpha }), "beta");
    expect(aOnB).toEqual({ status: 403, code: "forbidden", message: "this API key has no access to tenant <t>", keys: ["error"] });
    expect(bOnA).toEqual(aOnB);
    expect(aOnGhost).toEqual(aOnB);
    expect(aOnBMissingIndex).toEqual(aOnB);
  });
});

describe("roles", () => {
  it("search needs the search role; admin has every role", async () => {
    const publishOnly = await createKey("alpha", ["publish"]);
    const r = await search("alpha", "docs", Q, { key: publishOnly });
    expect(r.status).toBe(403);
    expect(r.body.error).toEqual({ code: "forbidden", message: "this API key lacks the search role" });
    expect((await search("alpha", "docs", Q, { key: await createKey("alpha", ["admin"]) })).status).toBe(200);
  });
});

describe("per-key limits", () => {
  it("requests per second: a token bucket answers 429 rate_limited with Retry-After", async () => {
    const key = await createKey("alpha", ["search"], { rps: 0.5, burst: 2 });
    expect((await search("alpha", "docs", Q, { key })).status).toBe(200);
    expect((await search("alpha", "docs", Q, { key })).status).toBe(200);
    const r = await search("alpha", "docs", Q, { key });
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe("rate_limited");
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // another key of the same tenant is not limited by it
    expect((await search("alpha", "docs", Q, { key: alpha })).status).toBe(200);
  });

  it("max k and max query length of the key", async () => {
    const key = await createKey("alpha", ["search"], { maxK: 5, maxQueryChars: 40 });
    expect((await search("alpha", "docs", { query: "bone", k: 5 }, { key })).status).toBe(200);
    const k = await search("alpha", "docs", { query: "bone", k: 6 }, { key });
    expect([k.status, k.body.error.code]).toEqual([400, "k_out_of_range"]);
    const q = await search("alpha", "docs", { query: "x".repeat(41) }, { key });
    expect([q.status, q.body.error.code]).toEqual([400, "query_too_long"]);
  });
});
