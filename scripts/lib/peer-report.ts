/** Summaries of a peer benchmark run: recall against the exact top-k, latency percentiles, the table and JSON. */

/** One peer's outcome; the numbers are absent when it did not get that far (see `note`). */
export interface PeerResult {
  peer: string;
  label?: string;
  version?: string;
  buildS?: number;
  /** CPU seconds of the build (all threads of the peer's process). */
  buildCpuS?: number;
  p50Ms?: number;
  p99Ms?: number;
  meanMs?: number;
  recall?: number;
  /** Queries measured (fewer than asked when the budget ran out). */
  queries?: number;
  rssMB?: number;
  jsMB?: number;
  peakMB?: number;
  note?: string;
}

/** Nearest-rank percentile of `sorted` (ascending), p in (0, 100]. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Mean over queries of |found ∩ exact| / k; query q's exact ids are truth[q*k, (q+1)*k). */
export function recallAtK(found: readonly (readonly number[])[], truth: Uint32Array, k: number): number {
  let sum = 0;
  found.forEach((ids, q) => {
    const exact = new Set(truth.subarray(q * k, (q + 1) * k));
    let hit = 0;
    for (const id of ids.slice(0, k)) if (exact.has(id)) hit++;
    sum += hit / k;
  });
  return found.length ? sum / found.length : NaN;
}

/** Mean of column `rank` (0 = top-1) of the exact scores, over the queries. */
export function meanExactScore(scores: Float32Array, k: number, rank: number): number {
  let sum = 0;
  const queries = scores.length / k;
  for (let q = 0; q < queries; q++) sum += scores[q * k + rank];
  return sum / queries;
}

const fixed = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? "-" : v.toFixed(digits));

/** A markdown table, one row per peer, then each peer's label. */
export function formatTable(results: readonly PeerResult[], k: number): string {
  const head = `| peer | build s | build CPU s | p50 ms | p99 ms | recall@${k} | RSS MB | JS MB | peak MB | note |`;
  const rows = results.map((r) =>
    [
      r.version ? `${r.peer} ${r.version}` : r.peer,
      fixed(r.buildS, 1), fixed(r.buildCpuS, 1), fixed(r.p50Ms, 2), fixed(r.p99Ms, 2), fixed(r.recall, 3),
      fixed(r.rssMB, 0), fixed(r.jsMB, 0), fixed(r.peakMB, 0), r.note ?? "",
    ].join(" | "),
  );
  const labels = results.filter((r) => r.label).map((r) => `- ${r.peer}: ${r.label}`);
  return [head, "|---|---|---|---|---|---|---|---|---|---|", ...rows.map((r) => `| ${r} |`), "", ...labels].join("\n");
}
