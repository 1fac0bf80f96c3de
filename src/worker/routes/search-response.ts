// The answer to a search, as the OpenAPI document describes it (the handler's response is checked against it by tsc).
import { z } from "@hono/zod-openapi";

const Fusion = z
  .discriminatedUnion("mode", [
    z.object({ mode: z.literal("rrf"), k: z.number().openapi({ description: "RRF constant: 1 / (k + rank)" }) }),
    z.object({ mode: z.literal("weighted"), weight: z.number(), normalization: z.enum(["tmm", "minmax"]) }),
  ])
  .openapi("Fusion", { description: "The fusion a hybrid search used." });

const Highlight = z
  .object({
    text: z.string().openapi({ description: "A snippet of the document's best-matching passage (at most 300 characters, cut at spaces; NFKC-normalized text, as the encoder read it)." }),
    marks: z.array(z.tuple([z.number(), z.number()])).openapi({ description: "The query's terms in `text`, as [start, end) UTF-16 offsets, ascending. Matched as BM25 matches: stemmed, case-folded, stop words never." }),
    html: z.string().openapi({ description: "`text` ready to show: each mark in <mark>...</mark>, every other character HTML-escaped (& < > \" ')." }),
    passage: z.number().openapi({ description: "Which passage of the document (token windows of the index's build; 0 is the first). The one holding the most distinct query terms (weighted by their count in the query); the first when none occurs." }),
  })
  .openapi("Highlight", { description: "With `highlight: true`." });

const Result = z
  .object({
    id: z.string().openapi({ description: "The document's id in the corpus." }),
    score: z.number().openapi({ description: "The ranking score (in hybrid mode, the fused score)." }),
    scores: z
      .object({ dense: z.number().optional(), lexical: z.number().optional() })
      .openapi({ description: "The raw score of each side that scored the document (cosine of its best passage; BM25)." }),
    title: z.string().optional().openapi({ description: "The document's title (\"\" when it has none); absent when `fields` leaves it out." }),
    text: z.string().optional().openapi({ description: "The document's text; absent when `fields` leaves it out." }),
    metadata: z.record(z.string(), z.unknown()).optional().openapi({ description: "The document's metadata, when the corpus had any (and `fields` asks for it)." }),
    highlight: Highlight.optional(),
  })
  .openapi("SearchResult");

/** `{tenant, index, version, mode, fusion?, query, offset, partitions?, results, timing, reads}`. */
export const SearchResponse = z
  .object({
    tenant: z.string(),
    index: z.string(),
    version: z.string().openapi({ description: "The index version that answered (16 hex)." }),
    mode: z.enum(["dense", "lexical", "hybrid"]).openapi({ description: "The mode that produced the results (dense when a lexical query matched no term)." }),
    fusion: Fusion.optional(),
    query: z.object({
      tokens: z.number().openapi({ description: "Tokens the encoder read (0 when the dense side did not run)." }),
      truncated: z.boolean().openapi({ description: "Whether the query was longer than the encoder reads (it reads the first tokens of the model's query window)." }),
      terms: z.number().optional().openapi({ description: "BM25 terms of the query (lexical and hybrid)." }),
      matchedTerms: z.number().optional().openapi({ description: "Terms that scored: in the index, and kept." }),
      droppedTerms: z.number().optional().openapi({ description: "Terms left out to bound the work of a long query: BM25 scores at most the 64 rarest (highest-idf) terms the index has, looked up in at most 64 of its buckets (terms - matchedTerms - droppedTerms are not in the index)." }),
      encoder: z.enum(["model", "static"]).optional().openapi({ description: "The query encoder that ran for the dense side (absent when it did not run): the query model, or the static tier." }),
      encoded: z.enum(["model", "isolate", "colo"]).optional().openapi({ description: "Where the query vector came from: the query model, or the isolate's or colo's cache of earlier encodings of the same tokens." }),
    }),
    offset: z.number().openapi({ description: "Results skipped before these (the request's `offset`)." }),
    partitions: z
      .object({ probed: z.number(), of: z.number() })
      .optional()
      .openapi({ description: "Partitioned indexes: partitions the dense side scanned, of all (more than the probe when a filter's matching documents were too few in the probed ones)." }),
    results: z.array(Result).openapi({ description: "At most k, best first." }),
    timing: z
      .object({ loadMs: z.number(), encodeMs: z.number(), scoreMs: z.number(), docsMs: z.number(), totalMs: z.number() })
      .openapi({ description: "Milliseconds per stage. Inside a Worker the clock only moves across I/O: these show I/O waits, not CPU time." }),
    cached: z.boolean().optional().openapi({ description: "True when the isolate ranked from an earlier identical request to the same index version (the ranking of that version; documents, timing and reads are this request's)." }),
    reads: z
      .object({ r2: z.number(), colo: z.number(), pointer: z.number() })
      .openapi({ description: "Reads this request made: index data from R2, and from the colo's cache (warm queries make none), and of the index's pointer (once per POINTER_TTL_MS)." }),
  })
  .openapi("SearchResponse");

export type SearchResponse = z.output<typeof SearchResponse>;
