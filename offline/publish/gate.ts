// The quality gate of `i3 publish --gate`: evaluate a build offline, with the worker's own search code
// (offline/eval/index-search.ts), before the pointer moves; compare with a floor and/or the current version.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beirPaths, readQrels, readQueries } from "../eval/beir.ts";
import { indexRun } from "../eval/index-search.ts";
import { evaluate } from "../eval/metrics.ts";
import { objectKey } from "../../src/format/r2-keys.ts";
import { MANIFEST_FILE, parseManifestBytes, type BuildDir } from "../build/build-dir.ts";
import { readPointer } from "./pointer.ts";
import { PublishError, type PublishTarget } from "./target.ts";

export interface GateOptions {
  /** BEIR directory (queries.jsonl, qrels/<split>.tsv; the corpus is the build's). */
  data: string;
  split?: string;
  /** Refuse below this nDCG@10. */
  minNdcg?: number;
  /** Refuse when nDCG@10 is more than this below the current version's (same queries, same code). */
  maxDrop?: number;
  /** Evaluate only the first N queries with qrels (faster CI). */
  queriesLimit?: number;
  log?: (line: string) => void;
}

export interface GateResult {
  passed: boolean;
  ndcg: number;
  /** nDCG@10 of the version the pointer names now, when --max-drop asked for it (null: nothing published yet). */
  currentNdcg: number | null;
  currentVersion: string | null;
  queries: number;
  reasons: string[];
}

/** nDCG@10 (and the rest) of a build directory over a BEIR split, searched as the worker searches. */
export async function evaluateBuild(buildDir: string | BuildDir, data: string, opts: { split?: string; queriesLimit?: number } = {}) {
  const p = beirPaths(data, opts.split ?? "test", { corpus: false });
  const qrels = await readQrels(p.qrels);
  let queries = (await readQueries(p.queries)).filter((q) => qrels.has(q.id));
  if (opts.queriesLimit) queries = queries.slice(0, opts.queriesLimit);
  const { run } = await indexRun(typeof buildDir === "string" ? buildDir : buildDir.dir, queries, { k: 100 });
  const e = evaluate(run, qrels, queries.map((q) => q.id));
  return { ndcg: e.mean["nDCG@10"], mean: e.mean, queries: e.evaluated };
}

/** Copies the version the pointer names into a temporary build directory (manifest.json + objects/). */
async function downloadCurrent(target: PublishTarget, tenant: string, index: string): Promise<{ dir: string; version: string } | null> {
  const state = await readPointer(target, tenant, index);
  if (!state?.pointer) return null;
  const got = await target.get(state.pointer.manifest);
  if (!got) throw new PublishError("not_found", `the current manifest ${state.pointer.manifest} is missing`);
  const manifest = parseManifestBytes(got.bytes, state.pointer.manifest);
  const dir = await mkdtemp(path.join(tmpdir(), "i3-gate-current-"));
  await mkdir(path.join(dir, "objects"));
  await writeFile(path.join(dir, MANIFEST_FILE), got.bytes);
  for (const o of manifest.objects) {
    const obj = await target.get(objectKey(tenant, index, o.path));
    if (!obj) throw new PublishError("not_found", `object ${o.path} of the current version ${state.pointer.version} is missing`);
    await writeFile(path.join(dir, o.path), obj.bytes);
  }
  return { dir, version: state.pointer.version };
}

/**
 * Runs the gate: the build's nDCG@10 against `minNdcg`, and against the current version's minus `maxDrop`.
 * Returns the numbers and why it failed, if it did; never touches the pointer.
 *
 * @example
 * const g = await runGate(target, "demo", "scifact", "build/x", { data: "data/demo/scifact", maxDrop: 0.01 });
 */
export async function runGate(target: PublishTarget, tenant: string, index: string, buildDir: string | BuildDir, o: GateOptions): Promise<GateResult> {
  const log = o.log ?? (() => {});
  const opts = { split: o.split, queriesLimit: o.queriesLimit };
  const fresh = await evaluateBuild(buildDir, o.data, opts);
  log(`gate: new build nDCG@10 ${fresh.ndcg.toFixed(4)} over ${fresh.queries} queries of ${o.data}`);
  const reasons: string[] = [];
  if (o.minNdcg !== undefined && fresh.ndcg < o.minNdcg) reasons.push(`nDCG@10 ${fresh.ndcg.toFixed(4)} < --min-ndcg ${o.minNdcg}`);
  let currentNdcg: number | null = null;
  let currentVersion: string | null = null;
  if (o.maxDrop !== undefined) {
    const cur = await downloadCurrent(target, tenant, index);
    if (!cur) log("gate: nothing published yet: --max-drop has nothing to compare with");
    else {
      try {
        currentVersion = cur.version;
        currentNdcg = (await evaluateBuild(cur.dir, o.data, opts)).ndcg;
        log(`gate: current version ${cur.version} nDCG@10 ${currentNdcg.toFixed(4)}`);
        if (fresh.ndcg < currentNdcg - o.maxDrop) {
          reasons.push(`nDCG@10 ${fresh.ndcg.toFixed(4)} is ${(currentNdcg - fresh.ndcg).toFixed(4)} below the current version ${cur.version} (${currentNdcg.toFixed(4)}); --max-drop ${o.maxDrop}`);
        }
      } finally {
        await rm(cur.dir, { recursive: true, force: true });
      }
    }
  }
  return { passed: reasons.length === 0, ndcg: fresh.ndcg, currentNdcg, currentVersion, queries: fresh.queries, reasons };
}
