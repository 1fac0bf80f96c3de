// The API reference page (`GET /docs`), rendered from the OpenAPI document alone: one self-contained HTML page (no
// scripts, no external resources), every string from the document escaped.
import type { App } from "./app";

type Document = ReturnType<App["getOpenAPI31Document"]>;
type Schema = { [key: string]: any };
type Operation = { method: string; path: string; op: Schema };

const METHODS = ["get", "head", "post", "put", "delete", "patch"] as const;

/** `s` with the five HTML specials escaped. */
export function escapeHtml(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Escaped text with `code` spans. */
const prose = (s: unknown) => escapeHtml(s).replace(/`([^`]+)`/g, "<code>$1</code>");

/**
 * The reference page of an OpenAPI 3.1 document: per operation its summary, key, parameters, body fields and
 * responses (each error status with its codes).
 *
 * @example
 * app.get("/docs", (c) => c.html(renderDocs(app.getOpenAPI31Document(config))));
 */
export function renderDocs(doc: Document): string {
  const ops = operations(doc);
  const toc = ops.map((o) => `<li><a href="#${anchor(o)}"><code>${o.method.toUpperCase()} ${escapeHtml(o.path)}</code></a> ${escapeHtml(o.op.summary)}</li>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(doc.info.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1>
<p>${prose(doc.info.description)}</p>
<p>The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(doc.openapi)}).</p>
<ul class="toc">${toc.join("")}</ul>
${ops.map((o) => operation(o, doc)).join("\n")}
</body>
</html>`;
}

function operations(doc: Document): Operation[] {
  return Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHODS.filter((m) => (item as Schema)[m]).map((method) => ({ method, path, op: (item as Schema)[method] })));
}

const anchor = (o: Operation) => `${o.method}-${o.path.replace(/[^a-z0-9]+/gi, "-")}`;

function operation(o: Operation, doc: Document): string {
  const roles = (o.op.security ?? []).flatMap((s: Schema) => Object.values(s).flat());
  const key = roles.length ? `an API key with the ${roles.map(escapeHtml).join(" or ")} role` : "none";
  return `<section id="${anchor(o)}">
<h2><code>${o.method.toUpperCase()} ${escapeHtml(o.path)}</code> ${escapeHtml(o.op.summary)}</h2>
${o.op.description ? `<p>${prose(o.op.description)}</p>` : ""}
<p class="meta">Key: ${key}</p>
${parameters(o.op.parameters ?? [], doc)}
${requestBody(o.op.requestBody, doc)}
${responses(o.op.responses ?? {}, doc)}
</section>`;
}

function parameters(params: Schema[], doc: Document): string {
  if (params.length === 0) return "";
  const rows = params.map((p) => row([`<code>${escapeHtml(p.name)}</code>`, escapeHtml(p.in), typeOf(p.schema ?? {}, doc), p.required ? "yes" : "", prose(p.description ?? p.schema?.description)]));
  return `<h3>Parameters</h3>${table(["name", "in", "type", "required", ""], rows)}`;
}

function requestBody(body: Schema | undefined, doc: Document): string {
  if (!body) return "";
  return `<h3>Request body</h3>${Object.entries(body.content ?? {}).map(([type, media]) => content(type, (media as Schema).schema, doc)).join("")}`;
}

function responses(all: Schema, doc: Document): string {
  const rows = Object.entries(all).map(([status, r]) => {
    const codes: string[] | undefined = resolve(r.content?.["application/json"]?.schema, doc)?.properties?.error?.properties?.code?.enum;
    const body = codes
      ? codes.map((c) => `<code>${escapeHtml(c)}</code>`).join(", ")
      : Object.entries(r.content ?? {}).map(([type, media]) => content(type, (media as Schema).schema, doc)).join("");
    return row([`<b>${escapeHtml(status)}</b>`, codes ? errorMeanings(r.description) : prose(r.description), body]);
  });
  return `<h3>Responses</h3>${table(["status", "", "body"], rows)}`;
}

/** "`code`: meaning; ..." as a list. */
function errorMeanings(description: string): string {
  return `<ul>${String(description).split("; ").map((d) => `<li>${prose(d)}</li>`).join("")}</ul>`;
}

function content(type: string, schema: Schema | undefined, doc: Document): string {
  const s = resolve(schema, doc);
  const fields = s ? flatten(s, "", doc, 0) : [];
  const head = `<p><code>${escapeHtml(type)}</code> ${s && fields.length === 0 ? typeOf(schema!, doc) : ""}${s?.description ? ` ${prose(s.description)}` : ""}</p>`;
  if (fields.length === 0) return head;
  return head + table(["field", "type", "required", ""], fields.map((f) => row([`<code>${escapeHtml(f.name)}</code>`, typeOf(f.schema, doc), f.required ? "yes" : "", prose(f.schema.description)])));
}

/** The fields of an object schema, nested ones as `a.b` and array items as `a[].b`. */
function flatten(s: Schema, prefix: string, doc: Document, depth: number): Array<{ name: string; schema: Schema; required: boolean }> {
  const out: Array<{ name: string; schema: Schema; required: boolean }> = [];
  for (const [name, raw] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
    const field = resolve(raw, doc)!;
    const full = prefix + name;
    out.push({ name: full, schema: raw, required: (s.required ?? []).includes(name) });
    const items = field.type === "array" ? resolve(field.items, doc) : undefined;
    if (depth < 3 && field.properties) out.push(...flatten(field, `${full}.`, doc, depth + 1));
    if (depth < 3 && items?.properties) out.push(...flatten(items, `${full}[].`, doc, depth + 1));
  }
  return out;
}

/** A schema's type in one line: `string`, `"a" | "b"`, `integer 1..100, default 10`, `{mode, k} | {mode, weight}`. */
function typeOf(s: Schema, doc: Document): string {
  if (s.$ref) {
    const target = resolve(s, doc);
    return target?.anyOf || target?.oneOf ? typeOf(target, doc) : escapeHtml(String(s.$ref).split("/").pop());
  }
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map((a: Schema) => typeOf(a, doc)).join(" | ");
  if (s.type === "object" && s.properties) return `{${Object.entries(s.properties as Record<string, Schema>).map(([k, v]) => fieldName(k, v)).join(", ")}}`;
  let t = s.enum ? s.enum.map((v: unknown) => escapeHtml(JSON.stringify(v))).join(" | ")
    : s.const !== undefined ? escapeHtml(JSON.stringify(s.const))
    : s.type === "array" ? `${typeOf(s.items ?? {}, doc)}[]`
    : escapeHtml([s.type ?? "any"].flat().join(" | "));
  const range = s.minimum !== undefined || s.maximum !== undefined ? ` ${s.minimum ?? ""}..${s.maximum ?? ""}` : "";
  const length = s.maxLength !== undefined ? `, at most ${s.maxLength} characters` : "";
  const pattern = s.pattern ? `, matching <code>${escapeHtml(s.pattern)}</code>` : "";
  const dflt = s.default !== undefined ? `, default ${escapeHtml(JSON.stringify(s.default))}` : "";
  t += range + length + pattern + dflt;
  return t;
}

/** `name`, or `name: "value"` for a field with one possible value (a discriminator). */
function fieldName(name: string, s: Schema): string {
  const only = s.const ?? (s.enum?.length === 1 ? s.enum[0] : undefined);
  return only === undefined ? escapeHtml(name) : `${escapeHtml(name)}: ${escapeHtml(JSON.stringify(only))}`;
}

/** A schema with its `$ref` to a component followed. */
function resolve(s: Schema | undefined, doc: Document): Schema | undefined {
  if (!s?.$ref) return s;
  return (doc.components?.schemas as Record<string, Schema> | undefined)?.[String(s.$ref).replace("#/components/schemas/", "")];
}

const row = (cells: string[]) => `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
const table = (head: string[], rows: string[]) =>
  `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;

const CSS = `
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 small { color: #666; font-size: .6em; }
  h2 { font-size: 1.15rem; margin-top: 2.5rem; border-top: 1px solid #ddd; padding-top: 1rem; }
  h3 { font-size: 1rem; margin-bottom: .25rem; }
  code { background: #f4f4f4; padding: 0 .2em; border-radius: 3px; }
  table { border-collapse: collapse; width: 100%; font-size: .9rem; }
  td, th { border-bottom: 1px solid #eee; padding: .3rem .5rem; text-align: left; vertical-align: top; }
  td ul { margin: 0; padding-left: 1rem; }
  .meta { color: #666; }
  .toc { columns: 2; font-size: .9rem; }
`;
