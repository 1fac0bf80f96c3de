// The API's schemas and document against the real worker (workerd + R2 simulator): /openapi.json and /docs without a
// key, every error the worker answers is one the document lists for that route and status, and unknown body fields
// are a coded 400 on search and on publishing. The document's validation as OpenAPI 3.1: test/src/worker/openapi.test.ts.
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createKey, publishBuildDir, search } from "./helpers";

const INDEX_DIR = "test/.cache/mini-index";
const fetchWorker = (path: string, init?: RequestInit) => exports.default.fetch(`http://worker${path}`, init);
let doc: any;
let publishKey: string;

beforeAll(async () => {
  await publishBuildDir(INDEX_DIR, "apidoc", "docs");
  publishKey = await createKey("apidoc", ["publish"]);
  const res = await fetchWorker("/openapi.json");
  expect(res.status).toBe(200);
  doc = await res.json();
});

/** The codes the document lists for `method path` answering `status`. */
function documented(method: string, path: string, status: number): string[] {
  const op = doc.paths[path]?.[method.toLowerCase()];
  return op?.responses?.[status]?.content?.["application/json"]?.schema?.properties?.error?.properties?.code?.enum ?? [];
}

describe("the reference", () => {
  it("GET /openapi.json needs no key and lists the search, publishing, page and reference routes", () => {
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/", "/docs", "/healthz", "/openapi.json",
      "/v1/tenants/{tenant}/indexes",
      "/v1/tenants/{tenant}/indexes/{index}",
      "/v1/tenants/{tenant}/indexes/{index}/current",
      "/v1/tenants/{tenant}/indexes/{index}/documents/{id}",
      "/v1/tenants/{tenant}/indexes/{index}/manifests/{version}",
      "/v1/tenants/{tenant}/indexes/{index}/objects/{name}",
      "/v1/tenants/{tenant}/indexes/{index}/search",
    ]);
    expect(Object.keys(doc.paths["/v1/tenants/{tenant}/indexes/{index}/current"]).sort()).toEqual(["get", "head", "put"]);
  });

  it("GET /docs needs no key and renders the document as a page without scripts", async () => {
    const res = await fetchWorker("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain("<code>POST /v1/tenants/{tenant}/indexes/{index}/search</code>");
    expect(html).toContain("<code>unknown_field</code>");
    expect(html).not.toContain("<script");
  });
});

describe("every error the worker answers is documented for its route and status", () => {
  const S = "/v1/tenants/apidoc/indexes/docs";
  const route = "/v1/tenants/{tenant}/indexes/{index}";
  const cases: Array<[string, string, string, RequestInit & { auth?: "search" | "publish" | "none" }]> = [
    ["POST", `${S}/search`, "search", { body: "{not json" }],
    ["POST", `${S}/search`, "search", { body: "{}" }],
    ["POST", `${S}/search`, "search", { body: JSON.stringify({ query: "x", filter: { year: 2020 } }) }],
    ["POST", `${S}/search`, "search", { body: JSON.stringify({ query: "x", k: 0 }) }],
    ["POST", `${S}/search`, "search", { body: JSON.stringify({ query: " " }) }],
    ["POST", `${S}/search`, "search", { body: JSON.stringify({ query: "x".repeat(16_385) }) }],
    ["POST", `${S}/search`, "search", { body: JSON.stringify({ query: "x", offset: 999 }) }],
    ["GET", `${S}/documents/no-such-document`, "documents/{id}", {}],
    ["GET", "/v1/tenants/apidoc/indexes/nothing/documents/x", "documents/{id}", {}],
    ["POST", `${S}/search`, "search", { body: JSON.stringify({ query: "x", mode: "sparse" }) }],
    ["POST", `${S}/search`, "search", { body: "{}", headers: { "content-type": "image/png" } }],
    ["POST", `${S}/search`, "search", { body: JSON.stringify({ query: "x".repeat(140_000) }) }],
    ["POST", `${S}/search`, "search", { body: "{}", auth: "none" }],
    ["POST", "/v1/tenants/apidoc/indexes/nothing/search", "search", { body: JSON.stringify({ query: "x" }) }],
    ["POST", "/v1/tenants/apidoc/indexes/No/search", "search", { body: JSON.stringify({ query: "x" }) }],
    ["GET", `${S}/search`, "search", {}],
    ["GET", `${S}/objects/${"0".repeat(64)}.bin`, "objects/{name}", { auth: "publish" }],
    ["GET", `${S}/objects/x.bin`, "objects/{name}", { auth: "publish" }],
    ["PUT", `${S}/objects/${"0".repeat(64)}.bin`, "objects/{name}", { auth: "publish", body: "not the name's bytes" }],
    ["PUT", `${S}/manifests/0000000000000000`, "manifests/{version}", { auth: "publish", body: "{}" }],
    ["GET", `${S}/manifests/0000000000000000`, "manifests/{version}", { auth: "publish" }],
    ["PUT", `${S}/current`, "current", { auth: "publish", body: "{}" }],
    ["PUT", `${S}/current`, "current", { auth: "publish", body: "{", headers: { "if-none-match": "*" } }],
    ["PUT", `${S}/current`, "current", { auth: "publish", body: "{}", headers: { "if-none-match": "*" } }],
  ];

  it.each(cases)("%s %s", async (method, path, docPath, init) => {
    const key = init.auth === "none" ? null : init.auth === "publish" ? publishKey : undefined;
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
    if (key !== null) headers.authorization = `Bearer ${key ?? (await searchKey())}`;
    const res = await fetchWorker(path, { method, body: init.body, headers });
    expect(res.status).toBeGreaterThanOrEqual(400);
    const { error } = (await res.json()) as any;
    expect(documented(method, `${route}/${docPath}`, res.status), `${res.status} ${error.code}`).toContain(error.code);
  });
});

let cachedSearchKey: string | undefined;
const searchKey = async () => (cachedSearchKey ??= await createKey("apidoc", ["search"]));

describe("bodies", () => {
  it("a JSON body sent as curl -d sends it (a form type) or as text/plain is searched like application/json", async () => {
    for (const type of ["application/x-www-form-urlencoded", "text/plain;charset=UTF-8"]) {
      const res = await fetchWorker("/v1/tenants/apidoc/indexes/docs/search", {
        method: "POST",
        headers: { authorization: `Bearer ${await searchKey()}`, "content-type": type },
        body: JSON.stringify({ query: "vitamin D and bone density", k: 2 }),
      });
      expect(res.status, type).toBe(200);
      expect(((await res.json()) as any).results).toHaveLength(2);
    }
  });
});

describe("unknown fields are a coded 400, never ignored", () => {
  it("search: a field this version does not know, or a misspelled option -> 400 unknown_field naming it", async () => {
    for (const [body, field] of [
      [{ query: "vitamin D", filters: { year: { $gte: 2020 } } }, "filters"],
      [{ query: "vitamin D", K: 5 }, "K"],
      [{ query: "vitamin D", mode: "hybrid", wieght: 0.7 }, "wieght"],
    ] as const) {
      const r = await search("apidoc", "docs", body);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("unknown_field");
      expect(r.body.error.message).toContain(`"${field}"`);
    }
    expect((await search("apidoc", "docs", { query: "vitamin D", k: 3 })).status).toBe(200);
    // "filter" is known since the index format's fields (2.1); on an index without them it is refused, not ignored
    const filtered = await search("apidoc", "docs", { query: "vitamin D", filter: { year: { gte: 2020 } } });
    expect([filtered.status, filtered.body.error.code]).toEqual([400, "invalid_filter"]);
  });

  it("publishing: a pointer with a field the format does not have -> 400 unknown_field, the pointer unchanged", async () => {
    const cur = await fetchWorker("/v1/tenants/apidoc/indexes/docs/current", { headers: { authorization: `Bearer ${publishKey}` } });
    const pointer = await cur.json();
    const res = await fetchWorker("/v1/tenants/apidoc/indexes/docs/current", {
      method: "PUT",
      headers: { authorization: `Bearer ${publishKey}`, "if-match": cur.headers.get("etag")!, "content-type": "application/json" },
      body: JSON.stringify({ ...(pointer as object), channel: "beta" }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe("unknown_field");
    expect(body.error.message).toContain('"channel"');
    const after = await fetchWorker("/v1/tenants/apidoc/indexes/docs/current", { headers: { authorization: `Bearer ${publishKey}` } });
    expect(after.headers.get("etag")).toBe(cur.headers.get("etag"));
  });
});
