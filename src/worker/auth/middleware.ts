import type { MiddlewareHandler } from "hono";
import { configOf, type Env } from "../env";
import { ApiError } from "../http-error";
import { validateName } from "../../format";
import { createKeyCache, type ColoShare, type KeyCache } from "./key-cache";
import { sealOf } from "../store/colo-seal";
import { hashApiKey, hasRole, keyMatches, parseApiKey, type KeyRecord, type Role } from "../../format/api-key";
import { createLru } from "../lru";
import { createRateLimiter, type RateLimiter } from "./rate-limit";
import { clientOf, createFailureLimiter, type FailureLimiter } from "./failures";
import { executionCtx, requestStorage } from "../store/storage";

/** The codes `requireKey` answers with, by status (for the OpenAPI document). */
export const REQUIRE_KEY_ERRORS = {
  400: ["invalid_name"],
  401: ["missing_credentials", "invalid_credentials"],
  403: ["forbidden"],
  429: ["rate_limited"],
  503: ["storage_unavailable"],
} as const;

/** What a request authenticated with: `c.get("apiKey")` in the handlers behind `requireKey`. */
export type AuthVariables = { apiKey?: Pick<KeyRecord, "id" | "tenant" | "roles" | "limits"> };

let state: { cache: KeyCache; limiter: RateLimiter; failures: FailureLimiter } | null = null;
/** One key cache, one rate limiter per key and one of failures per client per isolate, configured from the first request's env. */
function stateFor(env: Env) {
  state ??= { cache: createKeyCache({ ttlMs: configOf(env).keyCacheTtlMs }), limiter: createRateLimiter(), failures: createFailureLimiter() };
  return state;
}

/**
 * The SHA-256 of the keys that matched a record lately (a key is hashed once per isolate, not on every request: an
 * asynchronous digest per request cost about 0.3 ms of a warm query). Only keys that matched are kept, so made-up
 * keys cannot push the real ones out; a revoke is still seen, as the record is checked on every request.
 */
const KEY_HASHES = 1024;
const keyHashes = createLru<string>({ max: KEY_HASHES });

const unauthorized = (code: "missing_credentials" | "invalid_credentials", message: string) =>
  new ApiError(401, code, message, {
    headers: { "WWW-Authenticate": code === "missing_credentials" ? 'Bearer realm="i3"' : 'Bearer realm="i3", error="invalid_token"' },
  });

/**
 * Requires `Authorization: Bearer i3_<tenant>_<keyid>_<secret>` with a key of the route's `:tenant` that has `role`,
 * then applies the key's rate limit (its query-length and k limits apply in the search route, to the validated body;
 * `c.get("apiKey")` carries them). In order: 401 `missing_credentials`, 429 `rate_limited` (the client, by
 * CF-Connecting-IP, made too many failed attempts: failures.ts; checked before the key is looked up),
 * 401 `invalid_credentials` (malformed, unknown, wrong secret or revoked: one message for all; counted as a failure),
 * 400 `invalid_name`, 403 `forbidden` (another tenant, existing or not: one message; or a missing role),
 * 429 `rate_limited` (the key's own limit).
 * `AUTH = "off"` in the worker's vars turns it off (a deliberate, per-deployment choice).
 *
 * @example
 * app.use("/v1/tenants/:tenant/indexes/:index/search", requireKey("search"));
 */
export function requireKey(role: Role): MiddlewareHandler<{ Bindings: Env; Variables: AuthVariables }> {
  return async (c, next) => {
    if (!configOf(c.env).auth) return next();
    const header = c.req.header("authorization");
    if (!header) throw unauthorized("missing_credentials", "send an API key: Authorization: Bearer i3_<tenant>_<keyid>_<secret>");
    const { cache, limiter, failures } = stateFor(c.env);
    const client = clientOf(c.req.header("cf-connecting-ip"));
    const allowed = failures.check(c.env, client);
    if (!allowed.ok) {
      throw new ApiError(429, "rate_limited", "too many failed authentications from this client: try again later", {
        headers: { "Retry-After": String(allowed.retryAfterS) },
      });
    }
    const token = /^Bearer +(\S+) *$/i.exec(header)?.[1];
    const parsed = token ? parseApiKey(token) : null;
    if (!token || !parsed) {
      await failures.fail(c.env, client);
      throw unauthorized("invalid_credentials", "malformed credentials: expected Authorization: Bearer i3_<tenant>_<keyid>_<secret>");
    }
    // Through the request's storage: its R2 reads are the ones SIMULATED_R2_LATENCY_MS delays, as a deployment waits
    // for them. Through the colo cache only with COLO_SHARE_SECRET: caches.default is shared by every Worker on the
    // zone, so a record there could come from another deployment (a staging one, with its own keys) unless sealed.
    const s = requestStorage(c.env, executionCtx(c));
    const seal = s.colo ? await sealOf(s) : null;
    const colo: ColoShare | undefined = seal && s.colo ? { cache: s.colo, defer: s.defer, seal } : undefined;
    const record = await cache.get(s.bucket, parsed.tenant, parsed.keyId, s.defer, colo);
    const known = keyHashes.get(token);
    const hash = known ?? (await hashApiKey(token));
    if (!record || !(await keyMatches(record, token, hash))) {
      await failures.fail(c.env, client);
      throw unauthorized("invalid_credentials", "invalid or revoked API key");
    }
    if (!known) keyHashes.set(token, hash);

    const tenant = validateName("tenant", c.req.param("tenant") ?? ""); // FormatError invalid_name: 400 (http-error.ts)
    // Nothing of `tenant` has been read: a foreign tenant and a missing one get the same answer.
    if (record.tenant !== tenant) throw new ApiError(403, "forbidden", `this API key has no access to tenant ${tenant}`);
    if (!hasRole(record, role)) throw new ApiError(403, "forbidden", `this API key lacks the ${role} role`);

    const limits = record.limits ?? {};
    if (limits.rps) {
      const r = limiter.take(record.id, { rps: limits.rps, burst: limits.burst });
      if (!r.ok) {
        throw new ApiError(429, "rate_limited", `this API key is limited to ${limits.rps} requests per second`, {
          headers: { "Retry-After": String(r.retryAfterS) },
        });
      }
    }
    c.set("apiKey", { id: record.id, tenant: record.tenant, roles: record.roles, limits: record.limits });
    return next();
  };
}
