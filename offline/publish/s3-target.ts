import { AwsClient } from "aws4fetch";
import { fetchWithRetry, getResult, headResult, putHeaders } from "./http-response.ts";
import { PublishError, type PublishTarget, type PutOptions } from "./target.ts";

/** Where and as whom to write. `s3ConfigFromEnv` reads it from the environment. */
export interface S3Config {
  /** `https://<account_id>.r2.cloudflarestorage.com` for R2, `http://127.0.0.1:<port>` for moto. No bucket in it. */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** SigV4 region; R2 wants `"auto"` (the default). */
  region?: string;
  /** Attempts per request on 5xx, 429 and network errors (default 5), with exponential backoff from `retryBaseMs`. */
  attempts?: number;
  retryBaseMs?: number;
  /** ListObjectsV2 `max-keys` (default: the server's, 1000). */
  listPageSize?: number;
}

/**
 * The environment variables the S3 target reads:
 * - `R2_ENDPOINT` (or `S3_ENDPOINT`): the S3 API endpoint, e.g. `https://<account_id>.r2.cloudflarestorage.com`
 * - `R2_BUCKET`: the bucket name (the worker's `INDEXES` binding, `i3-indexes` in wrangler.toml)
 * - `R2_ACCESS_KEY_ID`, `R2_SECRET_ACCESS_KEY`: an R2 API token's S3 credentials (Object Read & Write)
 * - `R2_REGION` (optional, default `auto`)
 */
export const S3_ENV_VARS = ["R2_ENDPOINT", "R2_BUCKET", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"] as const;

/**
 * Builds an `S3Config` from the environment; a missing variable is a `PublishError("config")` naming all of them.
 *
 * @example
 * const target = createS3Target(s3ConfigFromEnv(process.env));
 */
export function s3ConfigFromEnv(env: Record<string, string | undefined> = process.env): S3Config {
  const endpoint = env.R2_ENDPOINT || env.S3_ENDPOINT;
  const missing: string[] = [];
  if (!endpoint) missing.push("R2_ENDPOINT (or S3_ENDPOINT)");
  for (const name of ["R2_BUCKET", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"]) if (!env[name]) missing.push(name);
  if (missing.length > 0) {
    throw new PublishError("config", `publishing to s3 needs these environment variables: ${missing.join(", ")}`);
  }
  return {
    endpoint: endpoint!,
    bucket: env.R2_BUCKET!,
    accessKeyId: env.R2_ACCESS_KEY_ID!,
    secretAccessKey: env.R2_SECRET_ACCESS_KEY!,
    region: env.R2_REGION || "auto",
  };
}

/**
 * A `PublishTarget` over the S3 API (R2, or moto in tests): path-style URLs, SigV4 through aws4fetch,
 * conditional PUT with `If-Match` / `If-None-Match: *`, ListObjectsV2 pagination, retries with backoff. A known
 * sha256 goes as the signed payload hash (`x-amz-content-sha256`), which the store checks against the body.
 *
 * @example
 * const t = createS3Target({ endpoint, bucket: "i3-indexes", accessKeyId, secretAccessKey });
 * await t.put("tenants/demo/indexes/x/current", bytes, { ifNoneMatch: "*" });
 */
export function createS3Target(config: S3Config): PublishTarget {
  const client = new AwsClient({
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    region: config.region ?? "auto",
    service: "s3",
    retries: 0, // retries are ours: aws4fetch does not retry network errors
  });
  const base = `${config.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(config.bucket)}`;
  const attempts = config.attempts ?? 5;
  const retryBaseMs = config.retryBaseMs ?? 100;
  const url = (key: string) => `${base}/${key.split("/").map(encodeURIComponent).join("/")}`;

  const send = (what: string, input: string, init: RequestInit) =>
    fetchWithRetry(() => client.fetch(input, init), { what, attempts, retryBaseMs, errorText });

  async function fail(what: string, res: Response): Promise<never> {
    const text = await errorText(res);
    if (res.status === 401 || res.status === 403) {
      throw new PublishError("auth", `${what}: access denied (HTTP ${res.status}): check R2_ACCESS_KEY_ID / R2_SECRET_ACCESS_KEY (${text})`);
    }
    if (res.status === 404) throw new PublishError("not_found", `${what}: not found (${text})`);
    if (res.status === 400 && /^(XAmzContentSHA256Mismatch|BadDigest|InvalidDigest)\b/.test(text)) {
      throw new PublishError("invalid_build", `${what}: the store refused the bytes: their sha256 is not the verified one (${text}); did the build change during the upload?`);
    }
    throw new PublishError("storage", `${what}: HTTP ${res.status} (${text})`);
  }

  return {
    describe: `s3 ${base}`,

    head: async (key) => headResult(`HEAD ${key}`, await send(`HEAD ${key}`, url(key), { method: "HEAD" }), fail),

    get: async (key) => getResult(`GET ${key}`, await send(`GET ${key}`, url(key), { method: "GET" }), fail),

    async put(key, bytes, opts: PutOptions = {}) {
      const what = `PUT ${key}`;
      // Without a known sha256 aws4fetch signs UNSIGNED-PAYLOAD (it never hashes the body for s3).
      const headers = { ...putHeaders(opts), ...(opts.sha256 ? { "x-amz-content-sha256": opts.sha256 } : {}) };
      const res = await send(what, url(key), { method: "PUT", headers, body: bytes });
      const conditional = opts.ifMatch !== undefined || opts.ifNoneMatch !== undefined;
      // 412: the condition failed. 409: S3 "ConditionalRequestConflict" (a concurrent conditional write).
      // 404 with If-Match: S3 and moto answer NoSuchKey when the key to match is gone; R2 answers 412.
      if (conditional && (res.status === 412 || res.status === 409 || (res.status === 404 && opts.ifMatch))) {
        const text = await errorText(res);
        const cond = opts.ifMatch !== undefined ? `If-Match ${opts.ifMatch}` : "If-None-Match *";
        throw new PublishError("precondition_failed", `${what}: ${cond} did not hold (HTTP ${res.status}: ${text})`);
      }
      if (!res.ok) return fail(what, res);
      await res.body?.cancel();
      return { etag: res.headers.get("etag") ?? "" };
    },

    async *list(prefix) {
      let token: string | undefined;
      do {
        const params = new URLSearchParams({ "list-type": "2", prefix });
        if (config.listPageSize) params.set("max-keys", String(config.listPageSize));
        if (token) params.set("continuation-token", token);
        const what = `LIST ${prefix}`;
        const res = await send(what, `${base}?${params}`, { method: "GET" });
        if (!res.ok) return fail(what, res);
        const xml = await res.text();
        for (const m of xml.matchAll(/<Key>([\s\S]*?)<\/Key>/g)) yield decodeXml(m[1]);
        const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
        token = truncated ? decodeXml(/<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml)?.[1] ?? "") : undefined;
        if (truncated && !token) throw new PublishError("storage", `${what}: truncated listing without a continuation token`);
      } while (token);
    },

    async delete(key) {
      const res = await send(`DELETE ${key}`, url(key), { method: "DELETE" });
      if (!res.ok && res.status !== 404) return fail(`DELETE ${key}`, res);
      await res.body?.cancel();
    },
  };
}

async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return code ? `${code}${message ? `: ${decodeXml(message)}` : ""}` : text.slice(0, 200) || res.statusText;
}

function decodeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    if (e[0] === "#") return String.fromCodePoint(e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[e]!;
  });
}
