/**
 * After a publish through an endpoint: searches `<base>/v1/tenants/<t>/indexes/<i>/search` until the worker answers
 * 200 with results from `version` (workers re-read the pointer every POINTER_TTL_MS, 10 s by default), or the
 * deadline passes.
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
): Promise<{ ok: boolean; message: string }> {
  const url = `${base.replace(/\/+$/, "")}/v1/tenants/${tenant}/indexes/${index}/search`;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const doFetch = opts.fetch ?? fetch;
  let last = "no answer";
  for (;;) {
    try {
      const res = await doFetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}) },
        body: JSON.stringify({ query: opts.query ?? "test", k: 3 }),
      });
      const body = (await res.json().catch(() => null)) as any;
      if (res.status === 200 && body?.version === version && Array.isArray(body.results) && body.results.length > 0) {
        return { ok: true, message: `${url} serves version ${version} (${body.results.length} results)` };
      }
      last = res.status === 200 ? `serves version ${body?.version} with ${body?.results?.length ?? 0} results` : `HTTP ${res.status} ${body?.error?.code ?? ""}`;
      // Credentials or routing problems will not fix themselves.
      if ([401, 403, 404].includes(res.status)) return { ok: false, message: `${url}: ${last}` };
    } catch (e) {
      last = String(e);
    }
    if (Date.now() >= deadline) return { ok: false, message: `${url}: ${last} (waited for version ${version})` };
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 2000));
  }
}
