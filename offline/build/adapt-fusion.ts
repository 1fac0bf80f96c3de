// The adaptive fusion weight as a step on a finished build directory: measure the pseudo-query statistic on the
// index, turn it into a weight by the model's anchor (offline/build/adaptive-fusion.ts) and, when asked, write it into
// manifest.json (validated, atomically; the objects stay). `i3 build` runs it by default for a model with an anchor;
// `i3 tune-fusion --pseudo` runs it on any build.
import type { LexicalSection } from "../../src/format/index.ts";
import { openIndex } from "../eval/index-search.ts";
import { pseudoStatistic } from "../eval/pseudo-statistic.ts";
import { adaptiveWeight, PSEUDO_FUSION_QUERIES, pseudoRatio, type AdaptiveWeight, type PseudoFusionAnchor, type PseudoStatistic } from "./adaptive-fusion.ts";
import { writeManifest } from "./build-dir.ts";
import { applySearchDefaults } from "./defaults.ts";
import { BuildError } from "./errors.ts";

export interface AdaptedFusion extends AdaptiveWeight {
  statistic: PseudoStatistic;
  fusion: { mode: "weighted"; weight: number; normalization: PseudoFusionAnchor["normalization"] };
}

/**
 * Whether `i3 build` adapts the weight: the model has an anchor, the build has a lexical section, and the build's
 * flags ask for no other fusion (no weight, no rrf, no other normalization than the anchor's).
 */
export function buildAdaptsFusion(anchor: PseudoFusionAnchor | undefined, asked: Partial<LexicalSection["fusion"]> = {}): anchor is PseudoFusionAnchor {
  return !!anchor && asked.weight === undefined && (asked.mode ?? "weighted") === "weighted" && (asked.normalization ?? anchor.normalization) === anchor.normalization;
}

/**
 * The build's statistic and adapted weight; with `apply`, written into its manifest.
 *
 * @example
 * const a = await adaptFusion("out/npl", { weight: 0.52, normalization: "tmm", ratio: 0.7158 }, { apply: true }); // a.weight
 */
export async function adaptFusion(dir: string, anchor: PseudoFusionAnchor, o: { apply?: boolean; queries?: number; threads?: number } = {}): Promise<AdaptedFusion> {
  const idx = await openIndex(dir);
  if (!idx.lexical) throw new BuildError("invalid_build", `${dir} has no lexical section (built with --no-lexical): nothing to fuse`);
  const statistic = await pseudoStatistic(idx, { n: o.queries, threads: o.threads });
  const a = adaptiveWeight(anchor, statistic);
  const fusion = { mode: "weighted" as const, weight: a.weight, normalization: anchor.normalization };
  if (o.apply) await writeManifest(dir, applySearchDefaults(idx.manifest, { fusion }));
  return { ...a, statistic, fusion };
}

/** The statistic as the command prints it (and `i3 build` says it). */
export function statisticLine(dir: string, s: PseudoStatistic): string {
  const ratio = pseudoRatio(s);
  return `${dir}: ${s.queries} pseudo-queries (${PSEUDO_FUSION_QUERIES.words.min}-${PSEUDO_FUSION_QUERIES.words.max} words of random documents); MRR@10 of the source document: ` +
    `dense ${s.denseMrr.toFixed(4)}, lexical ${s.lexicalMrr.toFixed(4)}, ratio ${ratio === undefined ? "undefined (BM25 found none)" : ratio.toFixed(4)}`;
}
