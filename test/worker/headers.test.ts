// Response headers, CORS and configuration through the worker's real fetch handler: security headers on every
// response, a CSP under which the pages' own inline script and style run, CORS for the configured origins only
// (preflights before the key check), a bad var answered 500 config_error naming it, and bounded echoes of bad input.
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { inline, sourceHash } from "../../src/worker/routes/csp";
import { createKey } from "./helpers";

const TENANT = "hdrco";
const SEARCH = `http://worker/v1/tenants/${TENANT}/indexes/docs/search`;
let key: string;

beforeAll(async () => {
  key = await createKey(TENANT, ["search"]);
});

/** The app over the test env with some vars changed (a deployment configured otherwise). */
const withVars = (vars: Record<string, string>) => async (input: string, init?: RequestInit): Promise<Response> =>
  worker.fetch(new Request(input, init), { ...(env as object), ...vars } as any, { waitUntil() {}, passThroughOnException() {}, props: {} } as any);

/** The directives of a Content-Security-Policy, by name. */
const directives = (csp: string | null) =>
  new Map((csp ?? "").split(";").map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...v]) => [name, v]));

describe("security headers", () => {
  it.each(["/", "/docs", "/healthz", "/openapi.json", "/no/such/route"])("%s: nosniff, DENY, no-referrer, a CSP that forbids framing", async (path) => {
    const res = await exports.default.fetch(`http://worker${path}`);
    await res.arrayBuffer();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const csp = directives(res.headers.get("content-security-policy"));
    expect(csp.get("frame-ancestors")).toEqual(["'none'"]);
    expect(csp.get("default-src")).toEqual(["'none'"]);
  });

  it("an error answer (401) carries them too", async () => {
    const res = await exports.default.fetch(SEARCH, { method: "POST", body: "{}" });
    expect(res.status).toBe(401);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("the search page's CSP allows exactly its own inline script and style (by sha256), and fetch to itself", async () => {
    const res = await exports.default.fetch("http://worker/");
    const html = await res.text();
    const csp = directives(res.headers.get("content-security-policy"));
    // Every script and style element is bare (what inline() reads), and nothing runs from attributes.
    expect(html.match(/<script\b/g)).toHaveLength(1);
    expect(html.match(/<style\b/g)).toHaveLength(1);
    expect(html).not.toMatch(/\son[a-z]+=|\sstyle=|javascript:/i);
    const scripts = inline(html, "script");
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toContain("addEventListener(\"submit\"");
    expect(csp.get("script-src")).toEqual([await sourceHash(scripts[0])]);
    expect(csp.get("style-src")).toEqual([await sourceHash(inline(html, "style")[0])]);
    expect(csp.get("connect-src")).toEqual(["'self'"]);
    expect(csp.has("unsafe-inline")).toBe(false);
  });

  it("the /docs page's CSP allows its style by hash and no script", async () => {
    const res = await exports.default.fetch("http://worker/docs");
    const html = await res.text();
    const csp = directives(res.headers.get("content-security-policy"));
    expect(html).not.toMatch(/<script\b/);
    expect(csp.has("script-src")).toBe(false);
    expect(csp.get("style-src")).toEqual([await sourceHash(inline(html, "style")[0])]);
  });
});

describe("CORS", () => {
  const preflight = (fetcher: (input: string, init?: RequestInit) => Promise<Response>, origin: string) =>
    fetcher(SEARCH, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
  const cors = (res: Response) => [...res.headers.keys()].filter((h) => h.startsWith("access-control-"));

  it("by default no origin is allowed: a preflight is 204 (not 401) without CORS headers", async () => {
    const res = await preflight((u, i) => exports.default.fetch(u, i), "https://app.example.com");
    expect(res.status).toBe(204);
    expect(cors(res)).toEqual([]);
    const real = await exports.default.fetch(SEARCH, { method: "POST", headers: { origin: "https://app.example.com", authorization: `Bearer ${key}` }, body: "{}" });
    expect(cors(real)).toEqual([]);
  });

  it("a listed origin: the preflight is answered before the key check, with the methods and headers it may use", async () => {
    const f = withVars({ CORS_ORIGINS: "https://app.example.com, http://localhost:5173" });
    const res = await preflight(f, "https://app.example.com");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")?.split(",")).toEqual(expect.arrayContaining(["authorization", "content-type"]));
    expect(res.headers.get("access-control-max-age")).toBe("600");
    expect(res.headers.get("vary")).toMatch(/origin/i);
  });

  it("a listed origin: real answers carry Access-Control-Allow-Origin, errors included", async () => {
    const f = withVars({ CORS_ORIGINS: "https://app.example.com" });
    const ok = await f(SEARCH, { method: "POST", headers: { origin: "https://app.example.com", authorization: `Bearer ${key}` }, body: '{"query": "x", "k": 0}' });
    expect(ok.status).toBe(400);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(ok.headers.get("access-control-expose-headers")).toContain("retry-after");
    const noKey = await f(SEARCH, { method: "POST", headers: { origin: "https://app.example.com" }, body: "{}" });
    expect(noKey.status).toBe(401);
    expect(noKey.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    const health = await f("http://worker/healthz", { headers: { origin: "https://app.example.com" } });
    expect(health.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
  });

  it("another origin gets no CORS header, on the preflight or the answer", async () => {
    const f = withVars({ CORS_ORIGINS: "https://app.example.com" });
    const pre = await preflight(f, "https://evil.example.com");
    expect(pre.status).toBe(204);
    expect(cors(pre)).toEqual([]);
    const res = await f(SEARCH, { method: "POST", headers: { origin: "https://evil.example.com", authorization: `Bearer ${key}` }, body: "{}" });
    expect(res.status).toBe(400);
    expect(cors(res)).toEqual([]);
    expect(res.headers.get("vary")).toMatch(/origin/i);
  });

  it("CORS_ORIGINS = * allows any origin", async () => {
    const f = withVars({ CORS_ORIGINS: "*" });
    const res = await preflight(f, "https://anyone.example.org");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("configuration", () => {
  it.each([
    ["POINTER_TTL_MS", "abc"],
    ["CACHE_BUDGET_BYTES", "-5"],
    ["KEY_CACHE_TTL_MS", "1e3"],
    ["AUTH", "of"],
    ["CORS_ORIGINS", "https://app.example.com/path"],
    ["SIMULATED_R2_LATENCY_MS", "NaN"],
    ["SIMULATED_COLO_LATENCY_MS", "-1"],
  ])("%s = %j: every route answers 500 config_error naming the var", async (name, value) => {
    const f = withVars({ [name]: value });
    for (const [url, init] of [["http://worker/healthz"], [SEARCH, { method: "POST", body: "{}" }]] as const) {
      const res = await f(url, init);
      expect(res.status).toBe(500);
      const body = (await res.json()) as any;
      expect(body.error.code).toBe("config_error");
      expect(body.error.message).toContain(name);
    }
  });

  it("good values, and empty ones (their defaults), serve", async () => {
    const f = withVars({ POINTER_TTL_MS: " 5000 ", CACHE_BUDGET_BYTES: "", AUTH: "on", CORS_ORIGINS: "" });
    expect((await f("http://worker/healthz")).status).toBe(200);
  });
});

describe("echoed input is bounded", () => {
  const long = "x".repeat(5000);
  const message = async (res: Response) => ((await res.json()) as any).error.message as string;

  it("a long tenant name: 400 invalid_name quoting at most 64 characters", async () => {
    const res = await exports.default.fetch(`http://worker/v1/tenants/${long}/indexes/docs/search`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: "{}" });
    const m = await message(res);
    expect(res.status).toBe(400);
    expect(m).toContain("5000 characters");
    expect(m).not.toContain("x".repeat(65));
  });

  it("a long unknown field, a long mode and many unknown fields: at most 64 characters of each, 5 fields", async () => {
    const send = (body: unknown) => exports.default.fetch(SEARCH, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
    for (const body of [{ query: "q", [long.slice(0, 4000)]: 1 }, { query: "q", mode: long.slice(0, 4000) }, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}${"y".repeat(40)}`, 1]))]) {
      const res = await send(body);
      const m = await message(res);
      expect(res.status).toBe(400);
      expect(m.length).toBeLessThan(600);
      expect(m).not.toMatch(/x{65}/);
    }
  });

  it("a long path of no route: 404 quoting at most 64 characters of it", async () => {
    const res = await exports.default.fetch(`http://worker/${long}`);
    const m = await message(res);
    expect(res.status).toBe(404);
    expect(m).not.toContain("x".repeat(65));
  });

  it("a long content type: 415 quoting at most 64 characters of it", async () => {
    const res = await exports.default.fetch(SEARCH, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": `image/${long}` }, body: "{}" });
    expect(res.status).toBe(415);
    expect(await message(res)).not.toContain("x".repeat(65));
  });
});
