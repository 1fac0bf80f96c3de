// Failed authentications per client through the worker's fetch handler, with an env of the test's own (the suite's
// env lifts the limit: vitest.config.ts): a client that keeps failing gets 429 before its keys are looked up in R2;
// other clients are not affected; the optional Rate Limiting binding refuses a client the whole location counted.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import type { Env } from "../../src/worker/env";
import { FIXTURE_INDEX, bucket, createKey, publishBuildDir } from "./helpers";

let good: string;
beforeAll(async () => {
  await publishBuildDir(FIXTURE_INDEX, "gate", "docs");
  good = await createKey("gate");
});

/** The R2 simulator, counting reads of key records. */
function countingBucket() {
  let keyReads = 0;
  const b = new Proxy(bucket, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== "get") return typeof v === "function" ? v.bind(target) : v;
      return (key: string, opts?: R2GetOptions) => {
        if (key.includes("/keys/")) keyReads++;
        return target.get(key, opts);
      };
    },
  });
  return { bucket: b, keyReads: () => keyReads };
}

const madeUp = (i: number) => `i3_gate_${i.toString(16).padStart(16, "0")}_${"a".repeat(64)}`;

async function searchAs(key: string, ip: string | null, vars: Partial<Env>) {
  const headers: Record<string, string> = { "content-type": "application/json", authorization: `Bearer ${key}` };
  if (ip) headers["cf-connecting-ip"] = ip;
  const req = new Request("http://worker/v1/tenants/gate/indexes/docs/search", { method: "POST", headers, body: JSON.stringify({ query: "bone", k: 1 }) });
  const res = await worker.fetch(req, { ...(env as unknown as Env), ...vars });
  const body = (await res.json()) as any;
  return { status: res.status, code: body.error?.code as string | undefined, retryAfter: res.headers.get("retry-after") };
}

describe("failed authentications per client", () => {
  it("after the limit, 429 rate_limited with Retry-After before any R2 read; other clients go on", async () => {
    const r2 = countingBucket();
    const vars = { AUTH_FAILURES_PER_MINUTE: "3", INDEXES: r2.bucket };
    const attacker = "198.51.100.7";
    for (let i = 0; i < 3; i++) expect(await searchAs(madeUp(i), attacker, vars)).toMatchObject({ status: 401, code: "invalid_credentials" });
    expect(r2.keyReads()).toBe(3);
    for (let i = 3; i < 10; i++) {
      expect(await searchAs(madeUp(i), attacker, vars)).toEqual({ status: 429, code: "rate_limited", retryAfter: "20" }); // 3 a minute: one in 20 s
    }
    expect(r2.keyReads()).toBe(3); // refused before the key store
    expect((await searchAs(good, attacker, vars)).status).toBe(429); // the client is refused, whatever it sends
    expect((await searchAs(good, "198.51.100.8", vars)).status).toBe(200);
    expect((await searchAs(madeUp(99), "198.51.100.8", vars)).status).toBe(401);
  });

  it("with the Rate Limiting binding, a client over the location's limit is refused in this isolate too", async () => {
    const limiter = (env as unknown as { TEST_AUTH_FAILURE_LIMITER: RateLimit }).TEST_AUTH_FAILURE_LIMITER; // 2 a minute
    const vars = { AUTH_FAILURES_PER_MINUTE: "1000", AUTH_FAILURE_LIMITER: limiter };
    const client = "203.0.113.9";
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await searchAs(madeUp(100 + i), client, vars));
    // The third failure is over the binding's limit; the fourth request is refused before its key is looked up.
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 429]);
    expect(answers[3]).toEqual({ status: 429, code: "rate_limited", retryAfter: "60" });
    // Without the binding, the same per-isolate limit lets another client through.
    expect((await searchAs(madeUp(200), "203.0.113.10", { AUTH_FAILURES_PER_MINUTE: "1000" })).status).toBe(401);
  });
});
