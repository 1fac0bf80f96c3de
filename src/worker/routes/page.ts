// GET /: the search page. A form over the search API: the query, the index, the mode, filters for the index's
// declared fields (from GET /v1/tenants/{tenant}/indexes/{index}), highlighted snippets, paging and the server's
// timing. The query and its options live in the address (?q=…), so a search can be shared and reloaded; the API key
// never does: it stays in this browser's storage and a password field.
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "./app";
import { pagePolicy } from "./csp";
import { errorResponses } from "./responses";

const pageRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["pages"],
  summary: "The search page",
  description: "A form that searches an index through the search API with a key (kept in the browser): highlighted snippets, filters for the index's fields, paging; the search lives in the address.",
  responses: {
    200: { description: "The page", content: { "text/html": { schema: z.string() } } },
    ...errorResponses(),
  },
});

/** Registers `GET /`: the page, with a policy that runs its one inline script (by hash) and lets it call this origin. */
export function registerSearchPage(app: App): void {
  app.openapi(pageRoute, async (c) => c.html(SEARCH_PAGE, 200, { "content-security-policy": await pagePolicy(SEARCH_PAGE, { connect: "'self'" }) }));
}

/** Results per page, and the deepest result paging reaches (the API's offset + k limit). */
const PAGE_SIZE = 10;
const MAX_DEPTH = 1000;

/** The page's script (no template literals inside: it is one). */
export const SEARCH_SCRIPT = `
const PAGE = ${PAGE_SIZE}, MAX_DEPTH = ${MAX_DEPTH};
const $ = (id) => document.getElementById(id);
const f = $("f"), out = $("results"), status = $("status"), filtersBox = $("filters"), pager = $("pager");
const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
let fields = [], fieldsOf = "", page = 1, running = 0;

// The key comes from the address (#key=…, what npm start prints) or from the last visit; it stays in this browser.
const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
if (fromHash) { localStorage.setItem("i3-key", fromHash); history.replaceState(history.state, "", location.pathname + location.search); }
f.elements.key.value = localStorage.getItem("i3-key") || "";
const key = () => f.elements.key.value.trim();
const api = (path, init) => fetch(path, { ...init, headers: { "content-type": "application/json", ...(key() ? { authorization: "Bearer " + key() } : {}) } });
const indexPath = () => "/v1/tenants/" + encodeURIComponent(f.elements.tenant.value) + "/indexes/" + encodeURIComponent(f.elements.index.value);

/** The filter controls of the index's declared fields (min/max for int and date, values for keywords). */
async function loadFields(params) {
  const which = f.elements.tenant.value + "/" + f.elements.index.value;
  if (which === fieldsOf) return;
  fieldsOf = which;
  fields = [];
  filtersBox.innerHTML = "";
  filtersBox.hidden = true;
  const res = await api(indexPath()).catch(() => null);
  if (!res || !res.ok) return;
  fields = (await res.json()).fields || [];
  filtersBox.hidden = fields.length === 0;
  filtersBox.innerHTML = "<legend>Filters</legend>" + fields.map((x) => {
    const id = "f-" + esc(x.name);
    if (x.type === "int" || x.type === "date") {
      const t = x.type === "int" ? "number" : "date";
      return '<label>' + esc(x.name) + ' from <input type="' + t + '" name="' + id + '.min" aria-label="' + esc(x.name) + ' from"></label>' +
        '<label>to <input type="' + t + '" name="' + id + '.max" aria-label="' + esc(x.name) + ' to"></label>';
    }
    return '<label>' + esc(x.name) + ' <input name="' + id + '" placeholder="' + (x.type === "keyword[]" ? "any of: a, b" : "a, or any of: a, b") + '" aria-label="' + esc(x.name) + '"></label>';
  }).join("");
  for (const el of filtersBox.querySelectorAll("input")) el.value = params.get(el.name) || "";
}

/** The API filter of the filled-in controls: ranges as $gte/$lte, a value as itself, several as $in. */
function filterOf() {
  const filter = {};
  for (const x of fields) {
    const id = "f-" + x.name;
    if (x.type === "int" || x.type === "date") {
      const min = f.elements[id + ".min"].value, max = f.elements[id + ".max"].value;
      const num = (v) => (x.type === "int" ? Number(v) : v);
      const r = {};
      if (min !== "") r.$gte = num(min);
      if (max !== "") r.$lte = num(max);
      if (Object.keys(r).length) filter[x.name] = r;
    } else {
      const vals = f.elements[id].value.split(",").map((v) => v.trim()).filter(Boolean);
      if (vals.length === 1) filter[x.name] = vals[0];
      else if (vals.length > 1) filter[x.name] = { $in: vals };
    }
  }
  return Object.keys(filter).length ? filter : undefined;
}

/** The search in the address: everything but the key. */
function addressOf() {
  const p = new URLSearchParams();
  p.set("q", f.elements.q.value);
  for (const n of ["tenant", "index", "mode", "encoder"]) if (f.elements[n].value) p.set(n, f.elements[n].value);
  if (page > 1) p.set("page", String(page));
  for (const el of filtersBox.querySelectorAll("input")) if (el.value) p.set(el.name, el.value);
  return "?" + p.toString();
}

async function run(push) {
  const q = f.elements.q.value.trim();
  if (!q) return;
  await loadFields(new URLSearchParams(location.search));
  if (push) history.pushState(null, "", addressOf());
  const mine = ++running;
  const t0 = performance.now();
  status.className = "";
  status.textContent = "Searching…";
  const body = { query: q, k: PAGE, offset: (page - 1) * PAGE, highlight: true };
  if (f.elements.mode.value) body.mode = f.elements.mode.value;
  if (f.elements.encoder.value) body.encoder = f.elements.encoder.value;
  const filter = filterOf();
  if (filter) body.filter = filter;
  let res, data;
  try {
    res = await api(indexPath() + "/search", { method: "POST", body: JSON.stringify(body) });
    data = await res.json();
  } catch (e) {
    data = { error: { code: "network", message: String(e) } };
  }
  if (mine !== running) return; // a newer search answered first
  const ms = Math.round(performance.now() - t0);
  if (!res || !res.ok) {
    status.className = "err";
    status.textContent = (data.error && data.error.code) + ": " + (data.error && data.error.message);
    out.innerHTML = "";
    pager.hidden = true;
    return;
  }
  const fusion = data.fusion ? (data.fusion.mode === "rrf" ? ", rrf k " + data.fusion.k : ", " + data.fusion.normalization + " fusion, dense weight " + data.fusion.weight) : "";
  const from = data.offset + 1, to = data.offset + data.results.length;
  status.textContent = (data.results.length ? "Results " + from + "–" + to : "No results") + " · " + data.mode + fusion +
    " · server " + Math.round(data.timing.totalMs) + " ms, round trip " + ms + " ms" + (data.cached ? " (cached)" : "") +
    (data.query.encoder ? " · " + data.query.encoder + " encoder" + (data.query.encoded ? " (vector from " + data.query.encoded + ")" : "") : "") + " · version " + data.version;
  const sides = (s) => (s.dense !== undefined ? " · dense " + s.dense.toFixed(4) : "") + (s.lexical !== undefined ? " · BM25 " + s.lexical.toFixed(2) : "");
  const meta = (r) => fields.filter((x) => r.metadata && r.metadata[x.name] !== undefined).map((x) => " · " + esc(x.name) + ": " + esc([].concat(r.metadata[x.name]).join(", "))).join("");
  out.start = from;
  out.innerHTML = data.results.map((r) =>
    '<li class="hit"><h3>' + esc(r.title || r.id) + '</h3><div class="meta">' + esc(r.id) + " · score " + r.score.toFixed(4) + (data.mode === "hybrid" ? sides(r.scores) : "") + meta(r) + "</div>" +
    '<p class="text">' + (r.highlight ? r.highlight.html : esc((r.text || "").slice(0, 300))) + "</p></li>").join("");
  pager.hidden = false;
  $("prev").disabled = page <= 1;
  $("next").disabled = data.results.length < PAGE || page * PAGE >= MAX_DEPTH;
  $("page").textContent = "Page " + page;
}

/** Fills the form from the address and runs its search (on load, and on back / forward). */
async function fromAddress() {
  const p = new URLSearchParams(location.search);
  for (const n of ["q", "tenant", "index", "mode", "encoder"]) if (p.has(n)) f.elements[n].value = p.get(n);
  page = Math.max(1, Number(p.get("page")) || 1);
  fieldsOf = "";
  if (p.get("q")) await run(false);
  else await loadFields(p);
}

f.addEventListener("submit", (e) => { e.preventDefault(); localStorage.setItem("i3-key", key()); page = 1; run(true); });
f.elements.index.addEventListener("change", () => loadFields(new URLSearchParams()));
f.elements.tenant.addEventListener("change", () => loadFields(new URLSearchParams()));
$("prev").addEventListener("click", () => { page--; run(true); });
$("next").addEventListener("click", () => { page++; run(true); });
addEventListener("popstate", fromAddress);
// "/" puts the cursor in the query field, as on most search pages.
addEventListener("keydown", (e) => {
  if (e.key === "/" && !/^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) { e.preventDefault(); f.elements.q.focus(); }
});
fromAddress();
`;

/** The page's HTML, one inline script and one inline style (allowed by their hashes: no inline handlers or style attributes). */
export const SEARCH_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>i3-edge search</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; }
  input, select, button { font: inherit; padding: .45rem .5rem; min-width: 0; }
  input[name=q] { flex: 1 1 18rem; }
  .opts { display: flex; gap: .5rem; flex-wrap: wrap; width: 100%; }
  .opts input, .opts select { width: 8rem; }
  fieldset { width: 100%; border: 1px solid #ccc; display: flex; flex-wrap: wrap; gap: .5rem 1rem; margin: 0; }
  fieldset input { width: 8rem; }
  :focus-visible { outline: 3px solid #2563eb; outline-offset: 1px; }
  ol { padding-left: 1.5rem; }
  .hit { margin: 1.1rem 0; }
  .hit h3 { margin: 0; font-size: 1.05rem; overflow-wrap: anywhere; }
  .meta { color: #555; font-size: .85rem; overflow-wrap: anywhere; }
  .err { color: #b00; }
  p.text { margin: .25rem 0; overflow-wrap: anywhere; }
  mark { background: #fde68a; padding: 0 .1em; }
  nav { display: flex; gap: 1rem; align-items: center; }
</style>
</head>
<body>
<h1>i3-edge</h1>
<form id="f" role="search">
  <input name="q" type="search" placeholder="Search, e.g. vitamin D and bone density" aria-label="Query" autofocus required>
  <button>Search</button>
  <div class="opts">
    <input name="tenant" value="demo" aria-label="Tenant" title="tenant">
    <input name="index" value="scifact" aria-label="Index" title="index">
    <select name="mode" aria-label="Mode" title="ranking: the index's default, or one signal alone">
      <option value="">default mode</option><option value="hybrid">hybrid</option><option value="dense">dense</option><option value="lexical">lexical</option>
    </select>
    <select name="encoder" aria-label="Query encoder" title="query encoder of the dense side: the index's default, the query model, the static tier, or auto (the model where it costs no wait, else the static tier)">
      <option value="">default encoder</option><option value="model">model</option><option value="static">static</option><option value="auto">auto</option>
    </select>
    <input name="key" type="password" placeholder="API key" aria-label="API key" title="API key (i3_…); npm start prints one for demo" autocomplete="off">
  </div>
  <fieldset id="filters" hidden></fieldset>
</form>
<p id="status" role="status" aria-live="polite"></p>
<ol id="results"></ol>
<nav id="pager" hidden aria-label="Pages"><button id="prev" type="button">← Previous</button><span id="page"></span><button id="next" type="button">Next →</button></nav>
<script>${SEARCH_SCRIPT}</script>
</body>
</html>`;
