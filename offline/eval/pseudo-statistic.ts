// The pseudo-query statistic of a built index (docs/RESULTS.md, "adaptive fusion"; the rule that turns it into a
// fusion weight: offline/build/adaptive-fusion.ts): 12-24 word spans cut from random documents, searched on the dense
// side and on BM25 with the worker's code (the index's query model and default probe; top 10 each); on each side the
// MRR@10 of the document the span was cut from.
import { createQueryModelEncoder } from "../encoder/query-model.ts";
import { searchLexical } from "../../src/search/bm25.ts";
import { denseSearch } from "../../src/search/vector-index.ts";
import { createTokenizer } from "../../src/text/tokenizer/index.ts";
import { PSEUDO_FUSION_QUERIES, type PseudoStatistic } from "../build/adaptive-fusion.ts";
import { pseudoQueries } from "../build/pseudo-queries.ts";
import { BuildError } from "../build/errors.ts";
import type { OpenIndex } from "./index-search.ts";

/**
 * The pseudo-query statistic of an opened index (its query model, default probe and BM25 section; the index must
 * have one).
 */
export async function pseudoStatistic(idx: OpenIndex, o: { n?: number; threads?: number } = {}): Promise<PseudoStatistic> {
  const m = idx.manifest;
  if (m.delta || m.tombstones) {
    // Its pseudo-queries would be cut from the base's documents, deleted ones too, and never from the delta's.
    throw new BuildError("invalid_build", `${idx.build.dir} is an incrementally updated version: \`i3 compact\` it, then measure the compacted build`);
  }
  const queries = await pseudoQueries((ref) => idx.build.readObject(ref), m.docs.blocks, m.corpus.documents, o.n ?? PSEUDO_FUSION_QUERIES.n, PSEUDO_FUSION_QUERIES.seed, PSEUDO_FUSION_QUERIES.words);
  const tokenizer = createTokenizer(JSON.parse(new TextDecoder().decode(await idx.build.readObject(m.model.vocab))));
  const enc = await createQueryModelEncoder({ modelPath: idx.build.objectFile(m.model.query), maxLen: m.model.maxQueryTokens, intraOpThreads: o.threads });
  let dense = 0;
  let lexical = 0;
  try {
    for (const q of queries) {
      const d = await denseSearch(await enc.encode([tokenizer.encode(q.text)]), idx.vectors, 10, idx.live);
      const l = await searchLexical(idx.lexical!, q.text, 10, { filter: idx.live });
      dense += reciprocalRank(d.hits, q.ordinal);
      lexical += reciprocalRank(l.hits, q.ordinal);
    }
  } finally {
    await enc.close();
  }
  const count = queries.length;
  return { queries: count, denseMrr: count ? dense / count : 0, lexicalMrr: count ? lexical / count : 0 };
}

/** 1 / rank of `ordinal` in the top 10 of `hits`, 0 when absent. */
function reciprocalRank(hits: Array<{ ordinal: number }>, ordinal: number): number {
  const i = hits.slice(0, 10).findIndex((h) => h.ordinal === ordinal);
  return i < 0 ? 0 : 1 / (i + 1);
}
