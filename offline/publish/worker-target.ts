// A PublishTarget over the worker's own admin routes (src/worker/routes/admin/): CI needs only an API key with the
// publish role, no R2 credentials. No Node-only imports, so it also loads inside workerd (test/worker/).
import { fetchWithRetry, getResult, headResult, putHeaders } from "./http-response.ts";
import { PublishError, type PublishTarget, type PutOptions } from "./target.ts";

export interface WorkerTargetConfig {
  /** The worker's base URL, e.g. `https://i3.example.workers.dev` (no trailing path). */
  baseUrl: string;
  /** An API key of the tenant with the publish role (`I3_API_KEY`). */
  apiKey?: string;
  /** The fetch to send with (tests: the worker's own `exports.default.fetch`). */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Attempts per request on 5xx, 429 and network errors (default 5), with exponential backoff from `retryBaseMs`. */
  attempts?: number;
  retryBaseMs?: number;
}

/** `tenants/<t>/indexes/<i>/<rest>` -> the admin route of that key, or a `PublishError("config")`. */
const KEY_PATTERN = /^tenants\/([a-z0-9][a-z0-9_-]{0,62})\/indexes\/([a-z0-9][a-z0-9_-]{0,62})\/(objects\/[0-9a-f]{64}\.[a-z0-9.]+|manifests\/[0-9a-f]{16}\.json|current)$/;

/**
 * Maps a raw R2 key (objectKey / manifestKey / pointerKey of src/format/r2-keys.ts) to its admin route path.
 *
 * @example
 * adminPath("tenants/demo/indexes/docs/manifests/0123456789abcdef.json");
 * // "/v1/tenants/demo/indexes/docs/manifests/0123456789abcdef"
 */
export function adminPath(key: string): string {
  const m = KEY_PATTERN.exec(key);
  if (!m) throw new PublishError("config", `${key}: not an object, manifest or pointer key; the worker target cannot address it`);
  const rest = m[3].startsWith("manifests/") ? m[3].replace(/\.json$/, "") : m[3];
  return `/v1/tenants/${m[1]}/indexes/${m[2]}/${rest}`;
}

/**
 * Publishes through the worker: `PUT objects/<sha256>.<ext>`, `PUT manifests/<version>`, then `PUT current` with
 * `If-Match` / `If-None-Match: *`. 412 -> `precondition_failed`, 401/403 -> `auth`, 5xx/429/network -> retried,
 * then `network`. An object's sha256 is in its name, which the worker checks (400 -> `invalid_build`), so
 * `PutOptions.sha256` adds nothing here. `list` and `delete` are not offered through the worker (`config`): gc needs `--to s3`.
 *
 * @example
 * const t = createWorkerTarget({ baseUrl: "https://i3.example.workers.dev", apiKey: process.env.I3_API_KEY });
 */
export function createWorkerTarget(config: WorkerTargetConfig): PublishTarget {
  const base = config.baseUrl.replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+$/.test(base)) throw new PublishError("config", `--endpoint must be an http(s) base URL without a path, got ${config.baseUrl}`);
  const doFetch = config.fetch ?? ((input: string, init?: RequestInit) => fetch(input, init));
  const attempts = config.attempts ?? 5;
  const retryBaseMs = config.retryBaseMs ?? 100;
  const auth: Record<string, string> = config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {};

  const send = (what: string, key: string, init: RequestInit & { headers?: Record<string, string> }) =>
    fetchWithRetry(() => doFetch(base + adminPath(key), { ...init, headers: { ...auth, ...init.headers } }), {
      what, attempts, retryBaseMs, errorText,
    });

  async function fail(what: string, res: Response): Promise<never> {
    const text = await errorText(res);
    if (res.status === 401 || res.status === 403) {
      throw new PublishError("auth", `${what}: access denied (HTTP ${res.status}): I3_API_KEY must be a key of this tenant with the publish role (${text})`);
    }
    if (res.status === 404) throw new PublishError("not_found", `${what}: not found (${text})`);
    if (res.status === 409) throw new PublishError("conflict", `${what}: ${text}`);
    if (res.status === 400) throw new PublishError("invalid_build", `${what}: refused (${text})`);
    throw new PublishError("storage", `${what}: HTTP ${res.status} (${text})`);
  }

  const unsupported = (op: string) =>
    new PublishError("config", `${op} is not supported through the worker; use --to s3 (R2's S3 API) for gc and listing`);

  return {
    describe: `worker ${base}`,

    head: async (key) => headResult(`HEAD ${key}`, await send(`HEAD ${key}`, key, { method: "HEAD" }), fail),

    get: async (key) => getResult(`GET ${key}`, await send(`GET ${key}`, key, { method: "GET" }), fail),

    async put(key, bytes, opts: PutOptions = {}) {
      const what = `PUT ${key}`;
      const res = await send(what, key, { method: "PUT", headers: putHeaders(opts), body: bytes as Uint8Array<ArrayBuffer> });
      if (res.status === 412) {
        const cond = opts.ifMatch !== undefined ? `If-Match ${opts.ifMatch}` : "If-None-Match *";
        throw new PublishError("precondition_failed", `${what}: ${cond} did not hold (${await errorText(res)})`);
      }
      if (!res.ok) return fail(what, res);
      await res.body?.cancel();
      return { etag: res.headers.get("etag") ?? "" };
    },

    async *list() {
      throw unsupported("listing");
    },

    async delete() {
      throw unsupported("deleting");
    },
  };
}

/** `code: message` of the worker's `{error: {code, message}}` body, else the start of the text. */
async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e?.code) return `${e.code}: ${e.message ?? ""}`;
  } catch {
    // not JSON
  }
  return text.slice(0, 200) || res.statusText;
}
