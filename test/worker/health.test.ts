import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
describe("healthz", () => {
  it("answers", async () => {
    const res = await exports.default.fetch("http://x/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});

describe("search page", () => {
  it("GET / serves the page without a key: the form and the script that calls the search API", async () => {
    const res = await exports.default.fetch("http://x/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('<form id="f" role="search">');
    expect(html).toMatch(/<select name="mode"/);
    expect(html).toContain('"/v1/tenants/"');
  });
});
