import { ApiError } from "../http-error";

/** Limits of the search API. */
export const LIMITS = {
  maxK: 100,
  defaultK: 10,
  /** Characters (UTF-16 code units) of the query; the encoder reads far fewer tokens anyway. */
  maxQueryChars: 2048,
  /** Bytes of the request body. */
  maxBodyBytes: 16 * 1024,
} as const;

export interface SearchRequest {
  query: string;
  k: number;
  /** dense | lexical | hybrid; absent: the index's default. */
  mode?: "dense" | "lexical" | "hybrid";
  /** Hybrid fusion; absent: the index's default (a `weight` alone means weighted). */
  fusion?: "rrf" | "weighted";
  /** Dense weight in [0, 1] of weighted fusion. */
  weight?: number;
  /** Score normalization of weighted fusion; absent: the index's default. */
  normalization?: "tmm" | "minmax";
}

/** Validates a parsed JSON body into a SearchRequest, with one coded error per problem. */
export function parseSearchRequest(body: unknown): SearchRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ApiError(400, "invalid_request", "the body must be a JSON object like {\"query\": \"...\", \"k\": 10}");
  }
  const { query, k, mode, fusion, weight, normalization } = body as Record<string, unknown>;
  if (query === undefined || query === null) throw new ApiError(400, "missing_query", "the body needs a \"query\" string");
  if (typeof query !== "string") throw new ApiError(400, "invalid_request", `"query" must be a string, got ${typeof query}`);
  if (query.trim() === "") throw new ApiError(400, "empty_query", "\"query\" is empty");
  if (query.length > LIMITS.maxQueryChars) {
    throw new ApiError(400, "query_too_long", `"query" has ${query.length} characters; the limit is ${LIMITS.maxQueryChars}`);
  }
  let kk: number = LIMITS.defaultK;
  if (k !== undefined) {
    if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > LIMITS.maxK) {
      throw new ApiError(400, "k_out_of_range", `"k" must be an integer from 1 to ${LIMITS.maxK}, got ${JSON.stringify(k)}`);
    }
    kk = k;
  }
  const out: SearchRequest = { query, k: kk };
  if (mode !== undefined) {
    if (mode !== "dense" && mode !== "lexical" && mode !== "hybrid") {
      throw new ApiError(400, "invalid_request", `"mode" must be "dense", "lexical" or "hybrid", got ${JSON.stringify(mode)}`);
    }
    out.mode = mode;
  }
  if (fusion !== undefined) {
    if (fusion !== "rrf" && fusion !== "weighted") throw new ApiError(400, "invalid_request", `"fusion" must be "rrf" or "weighted", got ${JSON.stringify(fusion)}`);
    out.fusion = fusion;
  }
  if (weight !== undefined) {
    if (typeof weight !== "number" || !(weight >= 0 && weight <= 1)) {
      throw new ApiError(400, "invalid_request", `"weight" (dense weight of weighted fusion) must be a number from 0 to 1, got ${JSON.stringify(weight)}`);
    }
    if (out.fusion === "rrf") throw new ApiError(400, "invalid_request", `"weight" applies to "fusion": "weighted", not "rrf"`);
    out.fusion = "weighted";
    out.weight = weight;
  }
  if (normalization !== undefined) {
    if (normalization !== "tmm" && normalization !== "minmax") {
      throw new ApiError(400, "invalid_request", `"normalization" must be "tmm" or "minmax", got ${JSON.stringify(normalization)}`);
    }
    if (out.fusion === "rrf") throw new ApiError(400, "invalid_request", `"normalization" applies to "fusion": "weighted", not "rrf"`);
    out.fusion = "weighted";
    out.normalization = normalization;
  }
  return out;
}

/** Reads the request body as JSON within the size limit. */
export async function readJsonBody(req: Request): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  // JSON, plain text, or curl's default form type for `-d` (the body is parsed as JSON either way).
  if (type && !/^(application\/(.+\+)?json|text\/plain|application\/x-www-form-urlencoded)\b/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", `expected application/json, got ${type}`);
  }
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > LIMITS.maxBodyBytes) {
    throw new ApiError(413, "payload_too_large", `the body is ${declared} bytes; the limit is ${LIMITS.maxBodyBytes}`);
  }
  const bytes = new Uint8Array(await req.arrayBuffer());
  if (bytes.length > LIMITS.maxBodyBytes) {
    throw new ApiError(413, "payload_too_large", `the body is ${bytes.length} bytes; the limit is ${LIMITS.maxBodyBytes}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ApiError(400, "invalid_json", "the body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, "invalid_json", `the body is not valid JSON: ${(e as Error).message}`);
  }
}
