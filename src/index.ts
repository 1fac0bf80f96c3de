import { Hono } from "hono";
import type { Env } from "./worker/env";
import { requireKey } from "./worker/auth";
import { ApiError, errorBody } from "./worker/http-error";
import { registerAdminRoutes } from "./worker/routes/admin";
import { SEARCH_PAGE } from "./worker/routes/page";
import { searchHandler } from "./worker/routes/search";
import { createRegistry, type IndexRegistry } from "./worker/store/registry";

let registry: IndexRegistry | null = null;
/** One registry per isolate, configured from the first request's env. */
function registryFor(env: Env): IndexRegistry {
  registry ??= createRegistry({
    pointerTtlMs: Number(env.POINTER_TTL_MS ?? 10_000),
    cacheBudgetBytes: Number(env.CACHE_BUDGET_BYTES ?? 64 * 1024 * 1024),
  });
  return registry;
}

const app = new Hono<{ Bindings: Env }>();

app.get("/", (c) => c.html(SEARCH_PAGE));
app.get("/healthz", (c) => c.json({ ok: true }));
app.use("/v1/tenants/:tenant/indexes/:index/search", requireKey("search"));
app.post("/v1/tenants/:tenant/indexes/:index/search", (c) => searchHandler(registryFor(c.env))(c));
app.all("/v1/tenants/:tenant/indexes/:index/search", () => {
  throw new ApiError(405, "method_not_allowed", "use POST with a JSON body {\"query\": \"...\", \"k\": 10}");
});

// Publishing through the worker (`i3 publish --to worker`): objects, manifests and the pointer, behind a publish key.
for (const path of ["objects/*", "manifests/*", "current"]) app.use(`/v1/tenants/:tenant/indexes/:index/${path}`, requireKey("publish"));
registerAdminRoutes(app);

app.notFound((c) => c.json(errorBody("route_not_found", `no route ${c.req.method} ${new URL(c.req.url).pathname}`), 404));
app.onError((err, c) => {
  if (err instanceof ApiError) return c.json(errorBody(err.code, err.message), err.status, err.headers);
  console.error("unhandled error", err);
  return c.json(errorBody("internal", "internal error"), 500);
});

export default app;
