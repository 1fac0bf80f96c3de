// GET /: the minimal search page, a form that POSTs to the search API and lists the results (no key needed to load it).
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "./app";
import { errorResponses } from "./responses";

const pageRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["pages"],
  summary: "The search page",
  description: "A form that searches an index through the search API with a key (kept in the browser) and lists the results.",
  responses: {
    200: { description: "The page", content: { "text/html": { schema: z.string() } } },
    ...errorResponses(),
  },
});

/** Registers `GET /`. */
export function registerSearchPage(app: App): void {
  app.openapi(pageRoute, (c) => c.html(SEARCH_PAGE, 200));
}

/** The page's HTML, one inline script. */
export const SEARCH_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>i3-edge search</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 50rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  form { display: flex; gap: .5rem; flex-wrap: wrap; }
  input[name=q] { flex: 1 1 20rem; padding: .5rem; font-size: 1rem; }
  input.small, select { width: 7rem; padding: .5rem; }
  button { padding: .5rem 1rem; font-size: 1rem; }
  .hit { margin: 1.25rem 0; }
  .hit h3 { margin: 0; font-size: 1.05rem; }
  .meta { color: #666; font-size: .85rem; }
  .err { color: #b00; }
  p.text { margin: .25rem 0; }
</style>
</head>
<body>
<h1>i3-edge</h1>
<form id="f">
  <input name="q" placeholder="Search the index, e.g. vitamin D and bone density" autofocus required>
  <input class="small" name="tenant" value="demo" title="tenant">
  <input class="small" name="index" value="scifact" title="index">
  <select name="mode" title="ranking: the index's default, or one signal alone">
    <option value="">default</option><option value="hybrid">hybrid</option><option value="dense">dense</option><option value="lexical">lexical</option>
  </select>
  <select name="encoder" title="query encoder of the dense side: the index's default, the query model, or the static tier">
    <option value="">default encoder</option><option value="model">model</option><option value="static">static</option>
  </select>
  <input class="small" name="key" type="password" placeholder="API key" title="API key (i3_…); npm start prints one for demo" autocomplete="off">
  <button>Search</button>
</form>
<p class="meta" id="status"></p>
<div id="results"></div>
<script>
const f = document.getElementById("f"), out = document.getElementById("results"), status = document.getElementById("status");
const keyField = f.elements.key;
// The key comes from the address (#key=…, what npm start prints) or from the last visit; it stays in this browser.
const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
if (fromHash) { localStorage.setItem("i3-key", fromHash); history.replaceState(null, "", location.pathname); }
keyField.value = localStorage.getItem("i3-key") || "";
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;","'":"&#39;"}[c]));
f.addEventListener("submit", async (e) => {
  e.preventDefault();
  const d = new FormData(f);
  const url = "/v1/tenants/" + encodeURIComponent(d.get("tenant")) + "/indexes/" + encodeURIComponent(d.get("index")) + "/search";
  localStorage.setItem("i3-key", d.get("key"));
  const t0 = performance.now();
  status.textContent = "Searching…";
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...(d.get("key") ? { authorization: "Bearer " + d.get("key") } : {}) }, body: JSON.stringify({ query: d.get("q"), k: 10, ...(d.get("mode") ? { mode: d.get("mode") } : {}), ...(d.get("encoder") ? { encoder: d.get("encoder") } : {}) }) });
  const body = await res.json();
  const ms = (performance.now() - t0).toFixed(0);
  if (!res.ok) { status.innerHTML = '<span class="err">' + esc(body.error?.code) + ": " + esc(body.error?.message) + "</span>"; out.innerHTML = ""; return; }
  const fusion = body.fusion ? (body.fusion.mode === "rrf" ? ": rrf k " + body.fusion.k : ": " + body.fusion.normalization + " fusion, dense weight " + body.fusion.weight) : "";
  status.textContent = body.results.length + " results in " + ms + " ms (" + (body.mode ?? "dense") + fusion + (body.query?.encoder ? ", " + body.query.encoder + " encoder" : "") + ", index version " + body.version + ")";
  const sides = (s) => (s.dense !== undefined ? " · dense " + s.dense.toFixed(4) : "") + (s.lexical !== undefined ? " · BM25 " + s.lexical.toFixed(2) : "");
  out.innerHTML = body.results.map((r, i) =>
    '<div class="hit"><h3>' + (i + 1) + ". " + esc(r.title || r.id) + '</h3><div class="meta">' + esc(r.id) + " · score " + r.score.toFixed(4) + (body.mode === "hybrid" ? sides(r.scores) : "") +
    '</div><p class="text">' + esc(r.text.length > 400 ? r.text.slice(0, 400) + "…" : r.text) + "</p></div>").join("");
});
</script>
</body>
</html>`;
