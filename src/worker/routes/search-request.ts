// The body of a search: one zod schema validates it and describes it in the OpenAPI document.
import { z } from "@hono/zod-openapi";
import { quoted } from "../../errors";
import type { KeyLimits } from "../../format/api-key";
import type { SearchOptionsRequest } from "../../search/modes";
import { QUERY_ENCODERS, type EncoderChoice } from "../../search/static-encoder";
import { ApiError, type ApiErrorCode } from "../http-error";

/** Limits of the search API. */
export const LIMITS = {
  maxK: 100,
  defaultK: 10,
  /**
   * Characters (UTF-16 code units) of the query: a pasted document ("more like this"). The encoder reads its first
   * tokens (the model's query window; the response says `truncated`), BM25 its MAX_QUERY_TERMS rarest terms.
   */
  maxQueryChars: 16_384,
  /** Bytes of the request body (a query of maxQueryChars, JSON-escaped, fits). */
  maxBodyBytes: 128 * 1024,
  /** Deepest result a request may reach: offset + k (dense and lexical; hybrid: its candidate window). */
  maxDepth: 1000,
  /** Partitions one query may probe (each is an object read when not cached). */
  maxProbe: 256,
} as const;

const kMessage = (input: unknown) => `"k" must be an integer from 1 to ${LIMITS.maxK}, got ${quoted(input)}`;
const oneOf = (field: string, values: readonly string[]) => (iss: { input?: unknown }) =>
  `"${field}" must be ${values.map((v) => JSON.stringify(v)).join(" or ")}, got ${quoted(iss.input)}`;

const MODES = ["dense", "lexical", "hybrid"] as const;
/** Fields of a result a request may ask for (`fields`); id and scores are always there. */
export const RESULT_FIELDS = ["id", "title", "text", "metadata"] as const;
export type ResultField = (typeof RESULT_FIELDS)[number];
const FUSIONS = ["rrf", "weighted"] as const;
const NORMALIZATIONS = ["tmm", "minmax"] as const;
const ENCODERS = [...QUERY_ENCODERS, "auto"] as const;
export type { EncoderChoice };
/** The encoder a request may name: one of the index's, or "auto" (the model when it needs no waiting, else the static tier). */
export type RequestEncoder = (typeof ENCODERS)[number];

/** `{query, k, mode?, fusion?, weight?, normalization?, probe?, filter?}`; any other field is 400 `unknown_field`. */
export const SearchRequest = z
  .strictObject(
    {
      query: z
        .string({ error: (iss) => `"query" must be a string, got ${iss.input === undefined ? "nothing" : quoted(iss.input)}` })
        .refine((q) => q.trim() !== "", { error: "\"query\" is empty" })
        .max(LIMITS.maxQueryChars, { error: (iss) => `"query" has ${(iss.input as string).length} characters; the limit is ${LIMITS.maxQueryChars}` })
        .openapi({ description: `The text to search for, 1 to ${LIMITS.maxQueryChars} characters (an API key may allow fewer).`, example: "vitamin D and bone density" }),
      k: z
        .int({ error: (iss) => kMessage(iss.input) })
        .min(1, { error: (iss) => kMessage(iss.input) })
        .max(LIMITS.maxK, { error: (iss) => kMessage(iss.input) })
        .default(LIMITS.defaultK)
        .openapi({ description: `Results to return (an API key may allow fewer).`, example: 10 }),
      mode: z.enum(MODES, { error: oneOf("mode", MODES) }).optional().openapi({
        description: "Ranking: dense (the encoder), lexical (BM25) or hybrid (both, fused). Default: the index's (hybrid when it has a BM25 section, else dense). A lexical query with no indexed term is answered densely.",
      }),
      fusion: z.enum(FUSIONS, { error: oneOf("fusion", FUSIONS) }).optional().openapi({
        description: "Hybrid fusion: reciprocal rank fusion, or weighted sum of normalized scores. Default: the index's; `weight` or `normalization` alone mean weighted.",
      }),
      weight: z
        .number({ error: (iss) => `"weight" (dense weight of weighted fusion) must be a number from 0 to 1, got ${quoted(iss.input)}` })
        .min(0, { error: (iss) => `"weight" must be from 0 to 1, got ${quoted(iss.input)}` })
        .max(1, { error: (iss) => `"weight" must be from 0 to 1, got ${quoted(iss.input)}` })
        .optional()
        .openapi({ description: "Weighted fusion: weight * dense + (1 - weight) * BM25 over normalized scores. Default: the index's tuned weight." }),
      normalization: z.enum(NORMALIZATIONS, { error: oneOf("normalization", NORMALIZATIONS) }).optional().openapi({
        description: "Weighted fusion's score normalization: tmm (from each score's theoretical minimum, every candidate scored on both sides) or minmax (each side's own top list). Default: the index's.",
      }),
      probe: z
        .int({ error: (iss) => `"probe" must be an integer from 1 to ${LIMITS.maxProbe}, got ${quoted(iss.input)}` })
        .min(1, { error: (iss) => `"probe" must be an integer from 1 to ${LIMITS.maxProbe}, got ${quoted(iss.input)}` })
        .max(LIMITS.maxProbe, { error: (iss) => `"probe" must be an integer from 1 to ${LIMITS.maxProbe}, got ${quoted(iss.input)}` })
        .optional()
        .openapi({ description: `Partitioned indexes: partitions the dense side scans (more: higher recall, more reads). Default: the index's, chosen at build time for recall@10 >= 0.98; clamped to the index's partitions and to what the isolate's partition memory holds (the response says how many were scanned). Flat indexes scan everything and ignore it.` }),
      filter: z
        .record(z.string(), z.unknown(), { error: (iss) => `"filter" must be an object like {"year": {"$gte": 2020}}, got ${JSON.stringify(iss.input)}` })
        .optional()
        .openapi({
          description: "Only documents whose declared fields (`i3 build --fields`) match are ranked, on every side. `{\"field\": value}` or `{\"field\": {\"$op\": value}}` with $eq $ne $in $nin $lt $lte $gt $gte (int and date fields; a date as ISO 8601) $exists; fields and operators of one object all hold; `$and` / `$or` take arrays of filters (nested at most 4 deep, 64 conditions, 1024 values per $in). On a keyword[] field $eq / $in hold when the array holds the value / any of them; $ne, $nin and $exists: false also match documents without the field. An unknown field or a value of the wrong type is 400 `invalid_filter`.",
          example: { year: { $gte: 2020 }, lang: "en", tags: { $in: ["a", "b"] } },
        }),
      offset: z
        .int({ error: (iss) => `"offset" must be an integer from 0 to ${LIMITS.maxDepth - 1}, got ${JSON.stringify(iss.input)}` })
        .min(0, { error: (iss) => `"offset" must be an integer from 0 to ${LIMITS.maxDepth - 1}, got ${JSON.stringify(iss.input)}` })
        .max(LIMITS.maxDepth - 1, { error: (iss) => `"offset" must be an integer from 0 to ${LIMITS.maxDepth - 1}, got ${JSON.stringify(iss.input)}` })
        .default(0)
        .openapi({ description: `Paging: results skipped before the k returned. offset + k must be at most ${LIMITS.maxDepth} (hybrid: at most its candidate window, max(the index's depth, 100)); beyond, 400 \`offset_out_of_range\`. Pages of one index version agree: one order (score descending, ties broken the same way every time), so page 2 continues page 1 exactly. A page can come back short: lexical ranks only documents with a query term; a flat index's dense side only the documents of its binary pass's best passages (manifest search.rescore).`, example: 0 }),
      highlight: z
        .boolean({ error: (iss) => `"highlight" must be true or false, got ${JSON.stringify(iss.input)}` })
        .optional()
        .openapi({ description: "Adds `highlight` to each result: a snippet of the document's best-matching passage with the query's terms marked (by the BM25 analyzer, so stemmed forms match), as offsets and as HTML." }),
      fields: z
        .array(z.enum(RESULT_FIELDS, { error: oneOf("fields[]", RESULT_FIELDS) }), { error: (iss) => `"fields" must be an array of ${RESULT_FIELDS.map((f) => JSON.stringify(f)).join(", ")}, got ${JSON.stringify(iss.input)}` })
        .optional()
        .openapi({ description: "The document fields each result carries (default: all). `[\"id\", \"title\", \"metadata\"]` leaves out `text`; `id`, `score` and `scores` are always there.", example: ["id", "title"] }),
      encoder: z.enum(ENCODERS, { error: oneOf("encoder", ENCODERS) }).optional().openapi({
        description: "The dense side's query encoder: the index's query model (a transformer, a few ms per query), or its static tier (learned token vectors, no transformer, microseconds; close in hybrid, weaker alone: see the README). \"auto\": the query model's vector when this isolate has the model loaded or the colo cache has the query's vector, else the static tier while the model loads (a new isolate answers without waiting for the model to load: about 25 ms for the shipped model, 100-200 ms for one that runs in onnxruntime-web; `query.encoder` says which ran). Default: the index's (\"model\" unless it was built otherwise). An index without a static tier answers \"static\" with 400 encoder_unavailable, and \"auto\" with the model.",
      }),
    },
    { error: (iss) => (iss.code === "invalid_type" ? "the body must be a JSON object like {\"query\": \"...\", \"k\": 10}" : undefined) },
  )
  .superRefine((body, ctx) => {
    if (body.offset + body.k > LIMITS.maxDepth) {
      ctx.addIssue({ code: "custom", path: ["offset"], message: `"offset" + "k" must be at most ${LIMITS.maxDepth}, got ${body.offset} + ${body.k}` });
    }
    if (body.fusion !== "rrf") return;
    for (const field of ["weight", "normalization"] as const) {
      if (body[field] !== undefined) ctx.addIssue({ code: "custom", path: [field], message: `"${field}" applies to "fusion": "weighted", not "rrf"` });
    }
  })
  .openapi("SearchRequest", { example: { query: "vitamin D and bone density", k: 10, mode: "hybrid" } });

export type SearchRequest = z.output<typeof SearchRequest>;

/** The stable code of a problem with a search body (the order of the schema's fields is the order of the checks). */
export function searchIssueCode(issue: z.core.$ZodIssue, value: unknown): ApiErrorCode {
  switch (issue.path[0]) {
    case "query":
      if (value === undefined || value === null) return "missing_query";
      if (issue.code === "too_big") return "query_too_long";
      return issue.code === "custom" ? "empty_query" : "invalid_request";
    case "k":
      return "k_out_of_range";
    case "filter":
      return "invalid_filter";
    case "offset":
      return "offset_out_of_range";
    default:
      return "invalid_request";
  }
}

/** The mode and fusion a request names: `weight` or `normalization` alone mean weighted fusion. */
export function requestedOptions(req: SearchRequest): SearchOptionsRequest {
  const weighted = req.weight !== undefined || req.normalization !== undefined;
  return { mode: req.mode, fusion: req.fusion ?? (weighted ? "weighted" : undefined), weight: req.weight, normalization: req.normalization };
}

/** The API key's own query-length and k limits (`i3 keys create --max-k --max-query-chars`), below the API's. */
export function checkKeyLimits(req: SearchRequest, limits: KeyLimits = {}): void {
  if (limits.maxQueryChars && req.query.length > limits.maxQueryChars) {
    throw new ApiError(400, "query_too_long", `"query" has ${req.query.length} characters; this API key's limit is ${limits.maxQueryChars}`);
  }
  if (limits.maxK && req.k > limits.maxK) {
    throw new ApiError(400, "k_out_of_range", `"k" must be an integer from 1 to ${Math.min(limits.maxK, LIMITS.maxK)} for this API key, got ${req.k}`);
  }
}
