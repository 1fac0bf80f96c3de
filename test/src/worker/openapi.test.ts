// The OpenAPI document and the reference page, built from the app in Node (Hono apps run in Node; the validator,
// which compiles schemas with `new Function`, cannot run inside workerd). The same routes against workerd and the
// R2 simulator: test/worker/openapi.test.ts.
import { Validator } from "@seriousme/openapi-schema-validator";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../../src/worker/app";
import { API_ERROR_CODES } from "../../../src/worker/http-error";
import { SEARCH_PAGE } from "../../../src/worker/routes/page";
import { escapeHtml } from "../../../src/worker/routes/docs-page";

const app = createApp(() => {
  throw new Error("the document needs no index");
});
let doc: any;

beforeAll(async () => {
  const res = await app.request("/openapi.json", {}, { INDEXES: {} });
  expect(res.status).toBe(200);
  doc = await res.json();
});

/** `METHOD /path` of every operation of the document. */
const operations = (d: any) => Object.entries(d.paths).flatMap(([path, item]: [string, any]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));

describe("GET /openapi.json", () => {
  it("validates as OpenAPI 3.1, and its $refs resolve", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const res = await validator.validate(doc);
    expect(res.errors).toBeUndefined();
    expect(res.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(() => validator.resolveRefs()).not.toThrow();
    // and it refuses a document that is not OpenAPI 3.1: a response without its description
    const broken = { ...doc, paths: { "/x": { get: { responses: { 200: { content: {} } } } } } };
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it("lists every route the app serves (HEAD with its GET), and no other", () => {
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replaceAll(/:(\w+)/g, "{$1}")}`),
    );
    for (const op of [...served]) if (op.startsWith("GET /v1/") && !op.endsWith("/search")) served.add(op.replace(/^GET/, "HEAD"));
    served.add("GET /v1/tenants/{tenant}/indexes/{index}/search"); // answered 405 by the ALL route
    expect(new Set(operations(doc))).toEqual(served);
    expect(operations(doc)).toHaveLength(21);
  });

  it("lists every stable error code, each response with the codes of its status", () => {
    const seen = new Set<string>();
    for (const item of Object.values(doc.paths) as any[]) {
      for (const op of Object.values(item) as any[]) {
        for (const [status, r] of Object.entries(op.responses) as [string, any][]) {
          if (Number(status) < 400 || !r.content) continue; // HEAD: the same statuses, no body
          const codes: string[] = r.content["application/json"].schema.properties.error.properties.code.enum;
          expect(codes.length, `${status}`).toBeGreaterThan(0);
          for (const code of codes) {
            expect(r.description).toContain(`\`${code}\``);
            seen.add(code);
          }
        }
      }
    }
    expect(doc.info.description).toContain("route_not_found");
    expect([...seen, "route_not_found"].sort()).toEqual([...API_ERROR_CODES].sort());
  });

  it("declares the search body strictly: its fields, k's range and default, no other field", () => {
    const body = doc.components.schemas.SearchRequest;
    expect(Object.keys(body.properties)).toEqual(["query", "k", "mode", "fusion", "weight", "normalization", "probe", "filter", "offset", "highlight", "fields", "encoder"]);
    expect(body.required).toEqual(["query"]);
    expect(body.additionalProperties).toBe(false);
    expect(body.properties.k).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 10 });
    expect(body.properties.query.maxLength).toBe(16384);
    expect(body.properties.offset).toMatchObject({ type: "integer", minimum: 0, maximum: 999, default: 0 });
    expect(body.properties.filter).toMatchObject({ type: "object" });
    expect(doc.components.schemas.Pointer.additionalProperties).toBe(false);
  });
});

describe("the search page agrees with the document", () => {
  it("offers the modes and encoders the document declares and reads only fields of the response", () => {
    const body = doc.components.schemas.SearchRequest;
    const options = (select: string) => [...(new RegExp(`<select name="${select}"[^>]*>([^]*?)</select>`).exec(SEARCH_PAGE)?.[1] ?? "").matchAll(/<option value="(\w+)">/g)].map((m) => m[1]);
    expect(options("mode").sort()).toEqual([...body.properties.mode.enum].sort());
    expect(options("encoder").sort()).toEqual([...body.properties.encoder.enum].sort());
    // What the page sends: the fields of its request body, each one the API declares.
    const literal = /const body = \{([^}]*)\}/.exec(SEARCH_PAGE)![1];
    const sent = [...literal.matchAll(/(\w+):/g), ...SEARCH_PAGE.matchAll(/body\.(\w+) =/g)].map((m) => m[1]);
    expect(sent).toEqual(["query", "k", "offset", "highlight", "mode", "encoder", "filter"]);
    for (const field of sent) expect(Object.keys(body.properties)).toContain(field);
    const response = doc.components.schemas.SearchResponse.properties;
    const result = doc.components.schemas.SearchResult.properties;
    for (const f of SEARCH_PAGE.matchAll(/data\.(\w+)/g)) expect(Object.keys(response).concat("error"), f[1]).toContain(f[1]);
    for (const f of SEARCH_PAGE.matchAll(/\br\.(\w+)/g)) expect(Object.keys(result), f[1]).toContain(f[1]);
  });
});

describe("GET /docs", () => {
  it("renders every operation and its error codes from the document, self-contained", async () => {
    const res = await app.request("/docs", {}, { INDEXES: {} });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    for (const op of operations(doc)) expect(html).toContain(`<code>${escapeHtml(op)}</code>`);
    for (const code of API_ERROR_CODES.filter((c) => c !== "route_not_found")) expect(html).toContain(`<code>${code}</code>`);
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
  });

  it("escapes what it renders", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});

describe("the README's API section agrees with the document", () => {
  it("names the search fields, response fields and error codes the document declares", async () => {
    const { readFile } = await import("node:fs/promises");
    const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
    const api = readme.slice(readme.indexOf("### API"), readme.indexOf("###", readme.indexOf("### API") + 4));
    const request = /with `(\{[^`]*\})` returns/.exec(api.replaceAll("\n", " "))![1];
    const fields = [...request.matchAll(/"(\w+)"\??:/g)].map((m) => m[1]);
    expect(fields).toEqual(Object.keys(doc.components.schemas.SearchRequest.properties));
    const response = /returns `(\{[^`]*\})`/.exec(api.replaceAll("\n", " "))![1];
    const top = response.replace(/\[[^\]]*\]/g, "").replace(/\{[^{}]*\}/g, (m, i) => (i === 0 ? m : "")).match(/\w+/g)!;
    expect(top.sort()).toEqual(Object.keys(doc.components.schemas.SearchResponse.properties).sort());
    for (const code of api.matchAll(/`([a-z_]+)`/g)) if (code[1].includes("_")) expect(API_ERROR_CODES, code[1]).toContain(code[1]);
    expect(api).toContain("/openapi.json");
    expect(api).toContain("/docs");
  });
});
