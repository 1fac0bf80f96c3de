// Headers of every response that keep browsers from misreading or framing it.
import type { MiddlewareHandler } from "hono";

/** The policy of a response that is not a page: it loads nothing and is never framed. */
export const NO_CONTENT_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * Sets, on every response (errors included): `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`,
 * `Referrer-Policy: no-referrer`, and a Content-Security-Policy where the route set none (pages set their own:
 * src/worker/routes/csp.ts).
 *
 * @example
 * app.use("*", securityHeaders());
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header("x-content-type-options", "nosniff");
    c.header("x-frame-options", "DENY");
    c.header("referrer-policy", "no-referrer");
    if (!c.res.headers.has("content-security-policy")) c.header("content-security-policy", NO_CONTENT_POLICY);
  };
}
