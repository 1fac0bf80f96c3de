// GET /openapi.json and GET /docs: the OpenAPI 3.1 document of every route, built from the same schemas that
// validate the requests, and the reference page rendered from it. Neither needs a key.
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "./app";
import { pagePolicy } from "./csp";
import { renderDocs } from "./docs-page";
import { errorResponses } from "./responses";

/** The document's top level; the paths come from the routes. */
export const DOCUMENT_CONFIG = {
  openapi: "3.1.0",
  info: {
    title: "i3-edge API",
    version: "1",
    description:
      "Passage search at the edge: `POST /v1/tenants/{tenant}/indexes/{index}/search` ranks an index's documents for a query, and the publishing routes upload an index built by `i3 build` (as `i3 publish --to worker` does). Errors are `{\"error\": {\"code\", \"message\"}}`: clients branch on the stable `code`; each response below lists its codes. Any other path answers 404 `route_not_found`. Keys are `Authorization: Bearer i3_<tenant>_<keyid>_<secret>` (`i3 keys create`). Browsers may call the API from the origins of the worker's `CORS_ORIGINS` var: a preflight (`OPTIONS`) is answered 204 before any key check. Every route can answer 500 `config_error` when a var of the worker is invalid.",
  },
  tags: [
    { name: "search", description: "Searching an index (a key with the search role)" },
    { name: "publish", description: "Publishing an index through the worker (a key with the publish role)" },
    { name: "pages", description: "Pages and health (no key)" },
    { name: "reference", description: "This document (no key)" },
  ],
} as const;

const documentRoute = createRoute({
  method: "get",
  path: "/openapi.json",
  tags: ["reference"],
  summary: "The OpenAPI document",
  description: "This document: every route with its parameters, bodies, responses and error codes.",
  responses: {
    200: { description: "An OpenAPI 3.1 document", content: { "application/json": { schema: z.object({ openapi: z.string() }).catchall(z.unknown()) } } },
    ...errorResponses(),
  },
});

const docsRoute = createRoute({
  method: "get",
  path: "/docs",
  tags: ["reference"],
  summary: "The API reference",
  description: "This document as a page.",
  responses: {
    200: { description: "The reference page", content: { "text/html": { schema: z.string() } } },
    ...errorResponses(),
  },
});

/** Registers `GET /openapi.json` and `GET /docs` (register them after every other route). */
export function registerReference(app: App): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "`i3_<tenant>_<keyid>_<secret>`: a key of the path's tenant with the route's role (`admin` has every role).",
  });
  let doc: ReturnType<App["getOpenAPI31Document"]> | undefined;
  let html: string | undefined;
  const document = () => (doc ??= app.getOpenAPI31Document(DOCUMENT_CONFIG as unknown as Parameters<App["getOpenAPI31Document"]>[0]));
  app.openapi(documentRoute, (c) => c.json(document() as { openapi: string }, 200));
  app.openapi(docsRoute, async (c) => {
    html ??= renderDocs(document());
    return c.html(html, 200, { "content-security-policy": await pagePolicy(html) });
  });
}
