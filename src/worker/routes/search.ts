// POST /v1/tenants/{tenant}/indexes/{index}/search: the search API, behind a key with the search role.
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { REQUIRE_KEY_ERRORS } from "../auth/middleware";
import type { Env } from "../env";
import { ApiError } from "../http-error";
import type { Fusion } from "../../search/fusion";
import { hybridWindow, searchHybrid, searchOptions, type SearchMode } from "../../search/modes";
import { searchLexical } from "../../search/bm25";
import { denseFloor } from "../../search/dense";
import type { DocFilter } from "../../search/filter";
import { denseSearch } from "../../search/vector-index";
import type { EncodedFrom, EncodedQuery } from "../encoder/query-encoder";
import { loadStaticEncoder } from "../encoder/static-loader";
import type { ByteCache } from "../store/byte-cache";
import { fetchDocs } from "../store/docs";
import type { IndexReaders, LoadedIndex } from "../store/loaded-index";
import { executionCtx, requestStorage, type Storage } from "../store/storage";
import type { IndexRegistry } from "../store/registry";
import type { App, AppEnv } from "./app";
import { jsonBody, jsonBodyErrors, type JsonBodyOptions } from "./json-body";
import { INDEX_PATH, IndexParams } from "./params";
import { errorResponses } from "./responses";
import { schemaHook } from "./schema-hook";
import type { Doc } from "../../format";
import { highlightDocument, type Highlight } from "../../text/highlight";
import { LIMITS, SearchRequest, checkKeyLimits, requestedOptions, searchIssueCode, type EncoderChoice, type RequestEncoder, type ResultField } from "./search-request";
import { filterDocuments, requestFilter } from "./search-filter";
import { SearchResponse } from "./search-response";

const PATH = `${INDEX_PATH}/search`;
const BODY: JsonBodyOptions = { limit: LIMITS.maxBodyBytes };

const searchRoute = createRoute({
  method: "post",
  path: PATH,
  tags: ["search"],
  summary: "Search an index",
  description: "Ranks the index's documents for a query (dense, BM25 or hybrid) and returns the top k with their text.",
  security: [{ apiKey: ["search"] }],
  middleware: [jsonBody(BODY)] as const,
  request: { params: IndexParams, body: { required: true, content: { "application/json": { schema: SearchRequest } } } },
  responses: {
    200: { description: "The results", content: { "application/json": { schema: SearchResponse } } },
    ...errorResponses(REQUIRE_KEY_ERRORS, jsonBodyErrors(BODY), {
      400: ["invalid_request", "unknown_field", "missing_query", "empty_query", "query_too_long", "k_out_of_range", "offset_out_of_range", "invalid_filter", "encoder_unavailable", "invalid_name"],
      404: ["index_not_found"],
      503: ["index_unavailable", "index_too_large"],
    }),
  },
});

const otherMethodRoute = createRoute({
  method: "get",
  path: PATH,
  tags: ["search"],
  summary: "Any method but POST",
  description: "Search is POST with a JSON body; GET (and any other method) answers 405, after the key check.",
  security: [{ apiKey: ["search"] }],
  request: { params: IndexParams },
  responses: errorResponses(REQUIRE_KEY_ERRORS, { 405: ["method_not_allowed"] }),
});

/** Registers the search route (the caller puts `requireKey("search")` in front of it). */
export function registerSearch(app: App, registryFor: (env: Env) => IndexRegistry): void {
  app.openapi(searchRoute, async (c) => c.json(await search(c, registryFor(c.env)), 200), schemaHook(SearchRequest, searchIssueCode));
  const notAllowed = (): Response => {
    throw new ApiError(405, "method_not_allowed", "use POST with a JSON body {\"query\": \"...\", \"k\": 10}");
  };
  app.openAPIRegistry.registerPath(otherMethodRoute); // documented; routed for every method by:
  app.all(PATH.replaceAll(/{(\w+)}/g, ":$1"), notAllowed);
}

/**
 * Mode, fusion, candidate depth and query encoder of a request: what it names, else the index's defaults
 * (manifest.lexical, manifest.model.defaultEncoder). A hybrid page must end within the hybrid candidate window
 * (deeper, the candidates and so the order would change).
 */
export function resolveOptions(req: SearchRequest, idx: LoadedIndex): { mode: SearchMode; fusion: Fusion; depth: number; encoder: RequestEncoder } {
  const opts = searchOptions(idx.lexicalSection, requestedOptions(req));
  if (opts.mode !== "dense" && !idx.lexicalSection) {
    throw new ApiError(400, "invalid_request", `"mode": "${opts.mode}" needs a lexical index; ${idx.tenant}/${idx.index} has none (build it without --no-lexical)`);
  }
  const window = hybridWindow(opts.depth);
  if (opts.mode === "hybrid" && req.offset + req.k > window) {
    throw new ApiError(400, "offset_out_of_range", `a hybrid search pages within its ${window} candidates per side: "offset" + "k" must be at most ${window}, got ${req.offset} + ${req.k}`);
  }
  const encoder = req.encoder ?? idx.manifest.model.defaultEncoder ?? "model";
  if (encoder === "static" && !idx.manifest.model.static) {
    throw new ApiError(400, "encoder_unavailable", `"encoder": "static" needs a static query tier; ${idx.tenant}/${idx.index} has none (build it with a model that has one, e.g. models/i3-scifact)`);
  }
  return { ...opts, encoder };
}

type SearchContext = Context<AppEnv, string, { out: { json: SearchRequest; param: { tenant: string; index: string } } }>;

/** One search: the index, the ranking, the documents; FormatErrors of a broken index go to the app's onError (503). */
async function search(c: SearchContext, registry: IndexRegistry): Promise<SearchResponse> {
  const t0 = performance.now();
  const req = c.req.valid("json");
  const { tenant, index } = c.req.valid("param");
  checkKeyLimits(req, c.get("apiKey")?.limits);
  const storage = requestStorage(c.env, executionCtx(c));
  const idx = await registry.get(storage, tenant, index);
  const opts = resolveOptions(req, idx);
  const filter = requestFilter(req.filter, idx);
  const t1 = performance.now();
  // A version is immutable, so the same request to it always has the same ranking: repeated queries, the common case
  // at an edge, are ranked from the isolate (their documents come from its document cache).
  // "auto" ranks as the encoder it runs: the model's ranking once the model is loaded; before, the one it ran.
  const keyOf = (encoder: RequestEncoder) =>
    `ranking:${JSON.stringify([tenant, index, idx.version, req.query, req.k, req.offset, { ...opts, encoder }, req.probe ?? null, filter?.key ?? null])}`;
  // "auto" takes the model's ranking whenever the isolate has it (the better one, and free), else the static tier's
  // while the model is not loaded.
  const key = keyOf(opts.encoder === "auto" ? "model" : opts.encoder);
  const unsettled = opts.encoder === "auto" && !idx.modelLoaded() && idx.manifest.model.static !== undefined;
  const cached = registry.results.get<Ranking>(key) ?? (unsettled ? registry.results.get<Ranking>(keyOf("static")) : undefined);
  const later: Array<() => Promise<unknown>> = []; // after the answer: the query model, where this request did without
  if (cached && unsettled && cached.query.encoder === "static") later.push(() => idx.ensureModel(storage));
  const readers = cached ? undefined : idx.open(storage, { probe: req.probe });
  // Deleted documents are skipped like documents a filter rejects.
  const docFilter = readers && filter ? await filterDocuments(filter, idx, readers, registry.cache) : idx.live;
  const ranking = cached ?? (await rank(idx, readers!, storage, registry.cache, req, opts, docFilter, later));
  const t3 = performance.now();
  if (!cached) {
    const ran = opts.encoder === "auto" ? keyOf(ranking.query.encoder ?? "model") : key;
    registry.results.set(ran, { ...ranking, encodeMs: 0 }, 2 * JSON.stringify(ranking).length + ran.length);
  }
  const { r, query } = ranking;
  const docs = await fetchDocs(storage, registry.cache, idx, r.hits.map((h) => h.ordinal));
  const highlights = req.highlight ? await highlightsOf(idx, storage, docs, req.query) : undefined;
  const t4 = performance.now();
  const encodeMs = cached ? 0 : ranking.encodeMs;
  for (const work of later) afterResponse(storage, work);
  return {
    tenant,
    index,
    version: idx.version,
    mode: r.mode,
    ...(r.mode === "hybrid" ? { fusion: opts.fusion } : {}),
    query: { ...query, ...(r.lexical ? { terms: r.lexical.terms, matchedTerms: r.lexical.matched, droppedTerms: r.lexical.dropped } : {}) },
    offset: req.offset,
    ...(ranking.probed ? { partitions: { probed: ranking.probed, of: idx.manifest.partitions.length } } : {}),
    results: r.hits.map((h, i) => ({
      ...documentFields(docs[i], req.fields),
      score: h.score,
      scores: h.scores,
      ...(highlights ? { highlight: highlights[i] } : {}),
    })),
    ...(cached ? { cached: true } : {}),
    // Inside a Worker the clock only moves across I/O, so these show I/O waits, not CPU time.
    timing: { loadMs: t1 - t0, encodeMs, scoreMs: t3 - t1 - encodeMs, docsMs: t4 - t3, totalMs: t4 - t0 },
    reads: { ...storage.stats },
  };
}

/**
 * The fields of a document a result carries: `fields` (default all; `id` always). The document body of
 * GET documents/:id uses the same.
 */
export function documentFields(doc: Doc, fields: readonly ResultField[] = ["id", "title", "text", "metadata"]): { id: string; title?: string; text?: string; metadata?: Record<string, unknown> } {
  const want = new Set(fields);
  return {
    id: doc.id,
    ...(want.has("title") ? { title: doc.title ?? "" } : {}),
    ...(want.has("text") ? { text: doc.text } : {}),
    ...(want.has("metadata") && doc.metadata ? { metadata: doc.metadata } : {}),
  };
}

/** Each document's best-matching passage (the index's token windows) with the query's terms marked. */
async function highlightsOf(idx: LoadedIndex, storage: Storage, docs: Doc[], query: string): Promise<Highlight[]> {
  const tokenizer = await idx.tokenizer(storage);
  const { window, stride } = idx.manifest.passages;
  return docs.map((d) => highlightDocument(d, query, { tokenizer, window, stride }));
}

/**
 * The query's vector by the encoder asked for. "static": the index's static tier. "model": the query model's; in an
 * isolate whose session is not made yet, first the colo's copy of the same query's vector (no session needed: the
 * session is made after the answer, for the requests that follow: `later`), else it makes the session and waits.
 * "auto": the same, but where the model would be waited for, the static tier answers (an index without one waits),
 * and the session is made after the answer.
 */
export async function encodeQuery(
  idx: LoadedIndex, storage: Storage, cache: ByteCache, text: string, choice: RequestEncoder, later?: Array<() => Promise<unknown>>,
): Promise<EncodedQuery & { encoder: EncoderChoice }> {
  const staticTier = async () => {
    const e = (await loadStaticEncoder(storage, cache, idx.tenant, idx.index, idx.manifest)).encode(text);
    return { vector: e.vector, tokens: e.tokens, truncated: e.truncated, from: "model" as const, encoder: "static" as const };
  };
  if (choice === "static") return staticTier();
  const cold = !idx.modelLoaded();
  if (cold) {
    const cached = await idx.cachedVector(storage, text);
    if (cached) {
      later?.push(() => idx.ensureModel(storage));
      return { ...cached, encoder: "model" };
    }
    if (choice === "auto" && idx.manifest.model.static) {
      later?.push(() => idx.ensureModel(storage));
      return staticTier();
    }
    await idx.ensureModel(storage); // a model that cannot be loaded answers 503 (the registry stops serving it)
  }
  // Cold: the colo was just asked for this query's vector (cachedVector), not asked again.
  return { ...(await (await idx.encoder(storage)).encode(text, storage, { coloChecked: cold && storage.colo !== undefined })), encoder: "model" };
}

/**
 * Runs `work` AFTER_ANSWER_MS after the request returns its answer (under its waitUntil), so that its CPU (a query
 * model: about 25 ms on the kernels, 100-200 ms for an onnxruntime-web session) holds up neither the answer nor, begun
 * earlier, the request's own reads. Its failure
 * is the next request's to meet.
 */
function afterResponse(storage: Storage, work: () => Promise<unknown>): void {
  storage.defer(new Promise((r) => setTimeout(r, AFTER_ANSWER_MS)).then(work).catch(() => {}));
}

/**
 * How long after returning its answer a request begins work that can wait (`afterResponse`): long enough for the
 * answer to be on its way. With 0, locally (through wrangler's proxy) a new isolate's first answer still waited
 * 200 ms for the query model's session made "after" it; with 50 it did not (docs/RESULTS.md section 26).
 */
const AFTER_ANSWER_MS = 50;

/** A ranking as `rank` makes it: what a repeated request to the same version reuses. */
type Ranking = Awaited<ReturnType<typeof rank>>;

/** The ranked hits in the resolved mode, with what the encoder saw of the query and how long it took. */
async function rank(
  idx: LoadedIndex, readers: IndexReaders, storage: Storage, cache: ByteCache, req: SearchRequest, opts: ReturnType<typeof resolveOptions>,
  filter?: DocFilter, later?: Array<() => Promise<unknown>>,
) {
  let query: { tokens: number; truncated: boolean; encoder?: EncoderChoice; encoded?: EncodedFrom } = { tokens: 0, truncated: false };
  let encodeMs = 0;
  let scanned: number | undefined;
  const dense = async (n: number) => {
    const te = performance.now();
    const e = await encodeQuery(idx, storage, cache, req.query, opts.encoder, later);
    encodeMs = performance.now() - te;
    query = { tokens: e.tokens, truncated: e.truncated, encoder: e.encoder, ...(e.encoder === "model" ? { encoded: e.from } : {}) };
    const d = await denseSearch(e.vector, readers.vectors, n, filter);
    scanned = d.probed?.length;
    return d;
  };
  const lexical = readers.lexical;
  const r = await searchHybrid({
    mode: opts.mode, k: req.k, offset: req.offset, depth: opts.depth, fusion: opts.fusion, dense, denseFloor: denseFloor(idx.manifest),
    lexical: lexical ? (n) => searchLexical(lexical, req.query, n, { filter }) : undefined,
  });
  // The partitions a partitioned index's dense side scanned (the request's probe, clamped to what memory holds; more
  // when a filter widened the scan).
  const probed = readers.vectors.kind === "ivf" ? (scanned ?? readers.vectors.options.probe) : undefined;
  return { r, query, encodeMs, probed };
}
