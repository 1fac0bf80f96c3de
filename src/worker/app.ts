import { OpenAPIHono } from "@hono/zod-openapi";
import { quoted } from "../errors";
import { corsByConfig } from "./cors";
import type { Env } from "./env";
import { requireKey } from "./auth";
import { errorBody, toApiError } from "./http-error";
import { registerAdminRoutes } from "./routes/admin";
import type { App, AppEnv } from "./routes/app";
import { registerHealth } from "./routes/health";
import { registerReference } from "./routes/openapi";
import { registerSearchPage } from "./routes/page";
import { schemaHook } from "./routes/schema-hook";
import { securityHeaders } from "./security-headers";
import { registerSearch } from "./routes/search";
import { registerDocuments } from "./routes/documents";
import { registerIndexList } from "./routes/indexes";
import type { IndexRegistry } from "./store/registry";

/**
 * The worker's app. Every route is declared with createRoute (src/worker/routes/): its schemas validate the request,
 * a failure is a coded 400 (schemaHook), and together they make the OpenAPI document at /openapi.json. Errors thrown
 * anywhere (ApiError from the routes, FormatError from the store) reach one onError (src/worker/http-error.ts).
 *
 * @example
 * export default createApp((env) => createRegistry({ pointerTtlMs: 10_000, cacheBudgetBytes: 64 << 20, kernels, onnxruntime: onnxruntimeWeb }));
 * // (src/worker/isolate.ts makes the worker's: one registry per isolate, configured from the env)
 */
export function createApp(registryFor: (env: Env) => IndexRegistry): App {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: schemaHook() });
  app.use("*", securityHeaders());
  // Parses the vars first (a bad one: 500 config_error on every route, naming it: src/worker/env.ts); preflights are
  // answered here, before any key check.
  app.use("*", corsByConfig());

  registerSearchPage(app);
  registerHealth(app);
  app.use("/v1/tenants/:tenant/indexes/:index/search", requireKey("search"));
  registerSearch(app, registryFor);
  app.use("/v1/tenants/:tenant/indexes/:index/documents/*", requireKey("search"));
  registerDocuments(app, registryFor);
  app.use("/v1/tenants/:tenant/indexes", requireKey("search"));
  app.use("/v1/tenants/:tenant/indexes/:index", requireKey("search"));
  registerIndexList(app, registryFor);

  // Publishing through the worker (`i3 publish --to worker`): objects, manifests and the pointer, behind a publish key.
  for (const path of ["objects/*", "manifests/*", "current"]) app.use(`/v1/tenants/:tenant/indexes/:index/${path}`, requireKey("publish"));
  registerAdminRoutes(app);
  registerReference(app);

  app.notFound((c) => c.json(errorBody("route_not_found", `no route ${c.req.method} ${quoted(new URL(c.req.url).pathname)}`), 404));
  app.onError((err, c) => {
    const e = toApiError(err, c.req.param());
    return c.json(errorBody(e.code, e.message), e.status, e.headers);
  });
  return app;
}
