// The fusion weight of a corpus from its own pseudo-queries (docs/RESULTS.md, "adaptive fusion"): the model's tuned
// weight, scaled down by how much worse the dense side finds the documents the pseudo-queries were cut from, relative
// to BM25, than it does on the corpus the weight was tuned on. No labels: the statistic comes from the index alone
// (offline/eval/pseudo-fusion.ts measures it); this file is the rule.
import { BuildError } from "./errors.ts";

/** The pseudo-queries of the statistic: a 12-24 word span of each of `n` random documents (seeded). */
export const PSEUDO_FUSION_QUERIES = { n: 1000, seed: 1, words: { min: 12, max: 24 } } as const;

/** How each side of an index finds the documents its pseudo-queries were cut from. */
export interface PseudoStatistic {
  queries: number;
  /** MRR@10 of the source document, dense side (the index's query model and default probe). */
  denseMrr: number;
  /** MRR@10 of the source document, BM25. */
  lexicalMrr: number;
}

/**
 * A model's anchor (`model.json` "pseudoFusion"): its tuned weighted fusion and the statistic's ratio on the corpus
 * that weight was tuned on.
 */
export interface PseudoFusionAnchor {
  weight: number;
  normalization: "tmm" | "minmax";
  /** denseMrr / lexicalMrr on the anchor corpus. */
  ratio: number;
}

export interface AdaptiveWeight {
  weight: number;
  /** denseMrr / lexicalMrr of this corpus; undefined when BM25 found no source document. */
  ratio?: number;
  /** The ratio over the anchor's, capped at 1 (the factor the anchor weight is scaled by). */
  factor: number;
}

/** denseMrr / lexicalMrr, or undefined when BM25 found no source document (the statistic then says nothing). */
export function pseudoRatio(s: PseudoStatistic): number | undefined {
  return s.lexicalMrr > 0 ? s.denseMrr / s.lexicalMrr : undefined;
}

/**
 * The rule: w = anchor.weight * min(1, ratio / anchor.ratio), rounded to 0.01; the anchor weight when the ratio is
 * undefined.
 *
 * @example
 * adaptiveWeight({ weight: 0.52, normalization: "tmm", ratio: 0.8 }, { queries: 1000, denseMrr: 0.6, lexicalMrr: 1 }).weight; // 0.39
 */
export function adaptiveWeight(anchor: PseudoFusionAnchor, s: PseudoStatistic): AdaptiveWeight {
  const ratio = pseudoRatio(s);
  const factor = ratio === undefined ? 1 : Math.min(1, ratio / anchor.ratio);
  return { weight: Math.round(anchor.weight * factor * 100) / 100, ratio, factor };
}

/** The anchor record of a model.json (`source` names it in errors), checked; undefined when it has none. */
export function parsePseudoFusionAnchor(x: unknown, source: string): PseudoFusionAnchor | undefined {
  if (x === undefined) return undefined;
  const bad = (msg: string) => new BuildError("invalid_model", `${source}: "pseudoFusion" ${msg}`);
  if (typeof x !== "object" || x === null) throw bad("must be an object");
  const a = x as Record<string, unknown>;
  if (typeof a.weight !== "number" || !(a.weight >= 0 && a.weight <= 1)) throw bad(`"weight" must be a number in [0,1], got ${JSON.stringify(a.weight)}`);
  if (a.normalization !== "tmm" && a.normalization !== "minmax") throw bad(`"normalization" must be tmm or minmax, got ${JSON.stringify(a.normalization)}`);
  if (typeof a.ratio !== "number" || !(a.ratio > 0 && Number.isFinite(a.ratio))) throw bad(`"ratio" must be a positive number, got ${JSON.stringify(a.ratio)}`);
  return { weight: a.weight, normalization: a.normalization, ratio: a.ratio };
}
