// Cross-origin access from browsers (CORS), for the origins the CORS_ORIGINS var allows, answered before any key check.
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { configOf, type Config, type Env } from "./env";

/** Request headers a browser may send cross-origin: the key, the JSON body and the pointer's conditions. */
const ALLOW_HEADERS = ["authorization", "content-type", "if-match", "if-none-match"];
/** Response headers a page may read beyond the safelisted ones. */
const EXPOSE_HEADERS = ["etag", "last-modified", "retry-after", "www-authenticate"];
const ALLOW_METHODS = ["GET", "HEAD", "POST", "PUT"];

const handlers = new WeakMap<Config, MiddlewareHandler>();

/** Hono's CORS middleware for the configured origins. */
function corsFor(config: Config): MiddlewareHandler {
  let h = handlers.get(config);
  if (!h) {
    const origin = config.corsOrigins === "*" ? "*" : (o: string) => o; // only called for an allowed origin (below)
    h = cors({ origin, allowHeaders: ALLOW_HEADERS, exposeHeaders: EXPOSE_HEADERS, allowMethods: ALLOW_METHODS, maxAge: 600 });
    handlers.set(config, h);
  }
  return h;
}

/**
 * CORS for the origins of `CORS_ORIGINS` (`*` or a comma-separated list; none by default). A preflight (OPTIONS with
 * Origin and Access-Control-Request-Method) is answered 204 here, before any key check: with the Access-Control-*
 * headers for an allowed origin, with none for another. Every other response to an allowed origin, errors included,
 * carries Access-Control-Allow-Origin; a disallowed origin gets no CORS header at all, so its browser refuses it.
 *
 * @example
 * app.use("*", corsByConfig());
 */
export function corsByConfig(): MiddlewareHandler<{ Bindings: Env }> {
  return async (c, next) => {
    const { corsOrigins } = configOf(c.env);
    const origin = c.req.header("origin");
    const allowed = origin !== undefined && (corsOrigins === "*" || corsOrigins.includes(origin.toLowerCase()));
    if (allowed) return corsFor(configOf(c.env))(c, next);
    const listed = corsOrigins !== "*" && corsOrigins.length > 0;
    if (c.req.method === "OPTIONS" && origin !== undefined && c.req.header("access-control-request-method") !== undefined) {
      return c.body(null, 204, listed ? { vary: "Origin" } : {});
    }
    await next();
    if (listed) c.header("vary", "Origin", { append: true }); // the answer depends on Origin: caches must not share it
  };
}
