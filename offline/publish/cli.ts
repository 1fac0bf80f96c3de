// `i3 publish`: argv -> options -> verify, gate, upload, smoke test; return the exit code (0 done, 1 failed or refused
// by the gate, 2 bad usage or configuration).
import { stat } from "node:fs/promises";
import { intFlag, numberFlag, parseFlags, UsageError } from "../command.ts";
import type { BuildDir } from "../build/build-dir.ts";
import { runGate } from "./gate.ts";
import { loadBuild, publishIndex, type PublishResult } from "./publish.ts";
import { smokeSearch } from "./smoke.ts";
import { nameFlag, openTarget, runStorageCommand, storageIO, TARGET_FLAGS, WORKER_FLAGS, targetUsage, withTarget, type StorageIO, type TargetKind } from "./target-flags.ts";
import type { PublishTarget } from "./target.ts";

const KINDS: readonly TargetKind[] = ["local", "s3", "worker"];

export const PUBLISH_USAGE = `usage: i3 publish <buildDir> --tenant <name> --index <name> --to local|s3|worker [options]

Uploads a build directory (manifest.json + objects/) to R2: objects first, then the manifest,
then the "current" pointer, with a conditional write so concurrent publishes cannot interleave.
Rerunning after an interruption skips objects already uploaded.

options:
${targetUsage(KINDS)}
  --concurrency <n>     uploads in flight (default 4, at most 64)
  -q, --quiet           print only the summary
  --verbose             stack traces on errors

quality gate (evaluated offline with the worker's search code before anything is uploaded; a refused
build exits 1 and leaves the pointer where it was):
  --gate <BEIR dir>     queries.jsonl + qrels/<split>.tsv of the build's corpus
  --min-ndcg <x>        refuse when nDCG@10 < x
  --max-drop <d>        refuse when nDCG@10 < (the current version's nDCG@10, same queries) - d
  --gate-split <s>      qrels split (default test)
  --gate-queries <n>    evaluate only the first n judged queries
smoke test after the pointer moved (exit 1 when it fails; the command to roll back is printed):
  --smoke <url>         the worker's base URL; searches until it serves the new version (60 s);
                        sends Authorization: Bearer $I3_API_KEY when set`;

const FLAGS = {
  ...TARGET_FLAGS, ...WORKER_FLAGS,
  tenant: { type: "string" }, index: { type: "string" }, concurrency: { type: "string" },
  quiet: { type: "boolean", short: "q" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
  gate: { type: "string" }, "min-ndcg": { type: "string" }, "max-drop": { type: "string" },
  "gate-split": { type: "string" }, "gate-queries": { type: "string" }, smoke: { type: "string" },
} as const;

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

interface PublishArgs {
  buildDir: string;
  tenant: string;
  index: string;
  to: TargetKind;
  concurrency: number;
  quiet: boolean;
  gate?: { data: string; split?: string; minNdcg?: number; maxDrop?: number; queriesLimit?: number };
  smoke?: string;
}

/**
 * `i3 publish …`: parses `argv` (the words after `publish`; a leading "publish" is dropped), publishes, prints what
 * happened. Returns the exit code: 0 done, 1 failed (invalid build, conflict, storage, gate), 2 bad usage or
 * configuration.
 *
 * @example
 * process.exitCode = await runPublishCommand(["out/scifact", "--tenant", "demo", "--index", "scifact", "--to", "local"]);
 */
export async function runPublishCommand(argv: string[], io: Partial<StorageIO> = {}): Promise<number> {
  const args = argv[0] === "publish" ? argv.slice(1) : argv;
  const sio = storageIO(io);
  return runStorageCommand("publish", PUBLISH_USAGE, args, sio, async () => {
    const { values: v, positionals } = parseFlags(args, FLAGS);
    const a = await publishArgs(v, positionals);
    await withTarget(openTarget(v, sio, KINDS), (target) => publish(target, a, sio));
  });
}

async function publishArgs(v: Values, positionals: string[]): Promise<PublishArgs> {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "missing <buildDir>" : `expected one <buildDir>, got ${positionals.join(" ")}`);
  const [buildDir] = positionals;
  const tenant = nameFlag("tenant", v.tenant);
  const index = nameFlag("index", v.index);
  const concurrency = intFlag("concurrency", v.concurrency) ?? 4;
  if (concurrency > 64) throw new UsageError(`--concurrency must be at most 64, got ${concurrency}`);
  const minNdcg = numberFlag("min-ndcg", v["min-ndcg"], 0);
  const maxDrop = numberFlag("max-drop", v["max-drop"], 0);
  const queriesLimit = intFlag("gate-queries", v["gate-queries"]);
  if (v.gate && minNdcg === undefined && maxDrop === undefined) throw new UsageError("--gate needs --min-ndcg and/or --max-drop");
  if (!v.gate && (minNdcg !== undefined || maxDrop !== undefined)) throw new UsageError("--min-ndcg and --max-drop need --gate <BEIR dir>");
  const isDir = await stat(buildDir).then((s) => s.isDirectory(), () => undefined);
  if (isDir === undefined) throw new UsageError(`build directory ${buildDir} not found`);
  if (!isDir) throw new UsageError(`${buildDir} is not a directory`);
  return {
    buildDir, tenant, index, to: v.to as TargetKind /* checked by openTarget */, concurrency, quiet: !!v.quiet,
    gate: v.gate ? { data: v.gate, split: v["gate-split"], minNdcg, maxDrop, queriesLimit } : undefined,
    smoke: v.smoke,
  };
}

/** Verify, gate, upload, smoke test: each step fails the command with a message for a person. */
async function publish(target: PublishTarget, a: PublishArgs, io: StorageIO): Promise<void> {
  const t0 = Date.now();
  const log = (l: string) => io.out(`  ${l}`);
  if (!a.quiet) io.out(`publishing ${a.buildDir} to ${target.describe} as ${a.tenant}/${a.index}`);
  const build = await loadBuild(a.buildDir);
  const expectPrevious = a.gate ? await gate(target, build, a, io) : undefined;
  const r = await publishIndex({ buildDir: build, tenant: a.tenant, index: a.index, target, concurrency: a.concurrency, expectPrevious, log: a.quiet ? undefined : log });
  io.out(
    `published ${a.tenant}/${a.index} version ${r.version} in ${((Date.now() - t0) / 1000).toFixed(1)}s: ` +
      `uploaded ${r.uploaded} objects, ${formatBytes(r.uploadedBytes)}; skipped ${r.skipped} already present; ` +
      (r.pointerMoved ? `pointer moved ${r.previousVersion ?? "(none)"} -> ${r.version}` : `pointer already at ${r.version}`),
  );
  if (a.smoke) await smoke(a.smoke, r, a, io);
}

/**
 * Runs the quality gate; a refused build stops the command. Returns the version the pointer must still name when
 * the upload starts (with --max-drop: the one the build was compared with).
 */
async function gate(target: PublishTarget, build: BuildDir, a: PublishArgs, io: StorageIO): Promise<string | null | undefined> {
  const g = await runGate(target, a.tenant, a.index, build, { ...a.gate!, log: (l) => io.out(`  ${l}`) });
  const cur = g.currentNdcg === null ? "" : `; current ${g.currentVersion} nDCG@10 ${g.currentNdcg.toFixed(4)}`;
  if (!g.passed) {
    throw new Error(`gate refused ${a.buildDir}: ${g.reasons.join("; ")} (${g.queries} queries${cur}). Nothing uploaded; the pointer is unchanged.`);
  }
  io.out(`gate passed: nDCG@10 ${g.ndcg.toFixed(4)} over ${g.queries} queries${cur}`);
  return a.gate!.maxDrop !== undefined ? g.currentVersion : undefined;
}

async function smoke(url: string, r: PublishResult, a: PublishArgs, io: StorageIO): Promise<void> {
  const s = await smokeSearch(url, a.tenant, a.index, r.version, { apiKey: io.env.I3_API_KEY });
  if (!s.ok) {
    const to = a.to === "worker" ? "s3" : a.to;
    const back = r.previousVersion ? ` Roll back with: i3 rollback --tenant ${a.tenant} --index ${a.index} --to-version ${r.previousVersion} --to ${to}` : "";
    throw new Error(`smoke test failed: ${s.message}.${back}`);
  }
  io.out(`smoke test passed: ${s.message}`);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let x = n / 1024;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${n} bytes (${x.toFixed(1)} ${units[u]})`;
}
