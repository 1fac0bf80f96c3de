import { retry } from "../retry.ts";

type SmokeResult = { ok: boolean; message: string };

/**
 * After a publish through an endpoint: searches `<base>/v1/tenants/<t>/indexes/<i>/search` until the worker answers
 * 200 with results from `version` (workers re-read the pointer every POINTER_TTL_MS, 10 s by default), or the
 * deadline passes. 401, 403 and 404 fail at once: credentials or routing problems will not fix themselves.
 *
 * @example
 * const s = await smokeSearch("https://search.example.com", "demo", "scifact", "3f2a9c0d11e4b5a6", { apiKey });
 */
export async function smokeSearch(
  base: string,
  tenant: string,
  index: string,
  version: string,
  opts: { apiKey?: string; query?: string; timeoutMs?: number; intervalMs?: number; fetch?: typeof fetch } = {},
): Promise<SmokeResult> {
  const url = `${base.replace(/\/+$/, "")}/v1/tenants/${tenant}/indexes/${index}/search`;
  const doFetch = opts.fetch ?? fetch;
  const attempt = async () => {
    try {
      const res = await doFetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
        body: JSON.stringify({ query: opts.query ?? "test", k: 3 }),
      });
      const body = (await res.json().catch(() => null)) as any;
      if (res.status === 200 && body?.version === version && Array.isArray(body.results) && body.results.length > 0) {
        return { done: { ok: true, message: `${url} serves version ${version} (${body.results.length} results)` } };
      }
      const last = res.status === 200 ? `serves version ${body?.version} with ${body?.results?.length ?? 0} results` : `HTTP ${res.status} ${body?.error?.code ?? ""}`;
      if ([401, 403, 404].includes(res.status)) return { done: { ok: false, message: `${url}: ${last}` } };
      return { again: last };
    } catch (e) {
      return { again: String(e) };
    }
  };
  const r = await retry<SmokeResult>(attempt, { attempts: Infinity, deadlineMs: opts.timeoutMs ?? 60_000, delayMs: () => opts.intervalMs ?? 2000 });
  return r.ok ? r.value : { ok: false, message: `${url}: ${r.last} (waited for version ${version})` };
}
