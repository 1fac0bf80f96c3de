// The search defaults an index carries in `manifest.lexical` (default mode, fusion, weight, normalization, depth):
// their command-line flags, shared by `i3 build` (written at build time) and `i3 defaults` (rewritten afterwards
// without re-encoding anything).
import type { LexicalSection } from "../../src/format/index.ts";
import { UsageError } from "../command.ts";

export interface SearchDefaults {
  fusion: Partial<LexicalSection["fusion"]>;
  defaultMode?: LexicalSection["defaultMode"];
}

/** parseArgs options of the search-default flags. */
export const SEARCH_DEFAULT_FLAGS = {
  fusion: { type: "string" }, "fusion-weight": { type: "string" }, "fusion-normalization": { type: "string" },
  "default-mode": { type: "string" },
} as const;

export const SEARCH_DEFAULT_USAGE = `  --fusion rrf|weighted    default fusion of hybrid search stored in the index (default: the model's, else weighted)
  --fusion-weight <w>      default dense weight in [0,1] for weighted fusion (default: the model's tuned weight
                           from model.json "fusion", else 0.43, tuned for use-lite on SciFact train; a model with a
                           "pseudoFusion" anchor, the default one, has it adapted to the corpus by \`i3 build\`:
                           scaled down where the dense side finds the corpus's own pseudo-queries relatively worse
                           than on SciFact, see \`i3 tune-fusion --pseudo\`; a --fusion-weight, --fusion rrf or
                           another --fusion-normalization than the anchor's keeps it fixed)
  --fusion-normalization tmm|minmax
                           score normalization of weighted fusion (default: the model's; see src/search/fusion.ts)
  --default-mode <m>       default search mode: hybrid (default), lexical or dense`;

/** Validates the flags' values (UsageError on a bad one); absent flags stay absent. */
export function parseSearchDefaults(v: Record<string, unknown>): SearchDefaults {
  const fusion = v.fusion as string | undefined;
  if (fusion !== undefined && fusion !== "rrf" && fusion !== "weighted") throw new UsageError(`--fusion must be rrf or weighted, got ${JSON.stringify(fusion)}`);
  const fw = v["fusion-weight"] as string | undefined;
  const weight = fw === undefined ? undefined : Number(fw);
  if (weight !== undefined && !(fw!.trim() !== "" && weight >= 0 && weight <= 1)) throw new UsageError(`--fusion-weight must be a number in [0,1], got ${JSON.stringify(fw)}`);
  const norm = v["fusion-normalization"] as string | undefined;
  if (norm !== undefined && norm !== "tmm" && norm !== "minmax") throw new UsageError(`--fusion-normalization must be tmm or minmax, got ${JSON.stringify(norm)}`);
  const dm = v["default-mode"] as string | undefined;
  if (dm !== undefined && dm !== "hybrid" && dm !== "lexical" && dm !== "dense") throw new UsageError(`--default-mode must be hybrid, lexical or dense, got ${JSON.stringify(dm)}`);
  return {
    fusion: { ...(fusion ? { mode: fusion } : {}), ...(weight !== undefined ? { weight } : {}), ...(norm ? { normalization: norm } : {}) },
    ...(dm ? { defaultMode: dm } : {}),
  };
}
