import { stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createLocalR2Target, DEFAULT_BUCKET, DEFAULT_PERSIST_TO } from "./local-r2-target.ts";
import { runGate } from "./gate.ts";
import { publishIndex } from "./publish.ts";
import { smokeSearch } from "./smoke.ts";
import { createS3Target, s3ConfigFromEnv } from "./s3-target.ts";
import { PublishError, type PublishTarget } from "./target.ts";
import { createWorkerTarget } from "./worker-target.ts";

export const PUBLISH_USAGE = `usage: i3 publish <buildDir> --tenant <name> --index <name> --to local|s3|worker [options]

Uploads a build directory (manifest.json + objects/) to R2: objects first, then the manifest,
then the "current" pointer, with a conditional write so concurrent publishes cannot interleave.
Rerunning after an interruption skips objects already uploaded.

options:
  --to local            the local R2 of \`wrangler dev\` (miniflare state)
  --to s3               R2 through its S3 API; needs R2_ENDPOINT (or S3_ENDPOINT), R2_BUCKET,
                        R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY (R2_REGION optional, default auto)
  --to worker           the worker's own admin routes; needs --endpoint and I3_API_KEY, an API key
                        of the tenant with the publish role (no R2 credentials)
  --endpoint <url>      with --to worker: the worker's base URL, e.g. https://i3.example.workers.dev
  --persist-to <dir>    with --to local: wrangler's state directory (default ${DEFAULT_PERSIST_TO}
                        next to the nearest wrangler.toml, as \`wrangler dev\` does)
  --bucket <name>       with --to local: the bucket (default ${DEFAULT_BUCKET}, as in wrangler.toml)
  --concurrency <n>     uploads in flight (default 4)
  -q, --quiet           print only the summary

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

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
}

/**
 * `i3 publish …`: parses `argv` (the words after `publish`; a leading "publish" is dropped), publishes, prints what
 * happened. Returns the exit code: 0 done, 1 failed (invalid build, conflict, storage), 2 bad usage or configuration.
 *
 * @example
 * process.exitCode = await runPublishCommand(["out/scifact", "--tenant", "demo", "--index", "scifact", "--to", "local"]);
 */
export async function runPublishCommand(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const out = io.out ?? ((l: string) => console.log(l));
  const err = io.err ?? ((l: string) => console.error(l));
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const usage = (msg: string) => {
    err(`i3 publish: ${msg}\n\n${PUBLISH_USAGE}`);
    return 2;
  };

  let parsed;
  try {
    parsed = parseArgs({
      args: argv[0] === "publish" ? argv.slice(1) : argv,
      allowPositionals: true,
      options: {
        tenant: { type: "string" },
        index: { type: "string" },
        to: { type: "string" },
        "persist-to": { type: "string" },
        bucket: { type: "string" },
        endpoint: { type: "string" },
        concurrency: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        gate: { type: "string" },
        "min-ndcg": { type: "string" },
        "max-drop": { type: "string" },
        "gate-split": { type: "string" },
        "gate-queries": { type: "string" },
        smoke: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    out(PUBLISH_USAGE);
    return 0;
  }
  if (positionals.length !== 1) return usage(positionals.length === 0 ? "missing <buildDir>" : `expected one <buildDir>, got ${positionals.join(" ")}`);
  if (!v.tenant) return usage("missing --tenant");
  if (!v.index) return usage("missing --index");
  if (v.to !== "local" && v.to !== "s3" && v.to !== "worker") {
    return usage(v.to ? `--to must be local, s3 or worker, got ${v.to}` : "missing --to local|s3|worker");
  }
  if (v.to !== "local" && (v["persist-to"] || v.bucket)) return usage(`--persist-to and --bucket go with --to local (${v.to === "s3" ? "s3 reads R2_BUCKET" : "not --to worker"})`);
  if (v.to === "worker" && !v.endpoint) return usage("--to worker needs --endpoint <the worker's base URL>");
  if (v.to !== "worker" && v.endpoint) return usage("--endpoint goes with --to worker");
  if (v.to === "worker" && !env.I3_API_KEY) return usage("--to worker needs I3_API_KEY: an API key of the tenant with the publish role");
  const concurrency = v.concurrency === undefined ? 4 : Number(v.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) return usage(`--concurrency must be an integer 1..64, got ${v.concurrency}`);
  const num = (flag: "min-ndcg" | "max-drop" | "gate-queries") => (v[flag] === undefined ? undefined : Number(v[flag]));
  const minNdcg = num("min-ndcg");
  const maxDrop = num("max-drop");
  const gateQueries = num("gate-queries");
  if (v.gate && minNdcg === undefined && maxDrop === undefined) return usage("--gate needs --min-ndcg and/or --max-drop");
  if (!v.gate && (minNdcg !== undefined || maxDrop !== undefined)) return usage("--min-ndcg and --max-drop need --gate <BEIR dir>");
  for (const [flag, x] of [["min-ndcg", minNdcg], ["max-drop", maxDrop], ["gate-queries", gateQueries]] as const) {
    if (x !== undefined && !(Number.isFinite(x) && x >= 0)) return usage(`--${flag} must be a number >= 0, got ${v[flag]}`);
  }
  const buildDir = positionals[0];
  try {
    if (!(await stat(buildDir)).isDirectory()) return usage(`${buildDir} is not a directory`);
  } catch {
    return usage(`build directory ${buildDir} not found`);
  }

  let target: PublishTarget;
  try {
    target =
      v.to === "s3"
        ? createS3Target(s3ConfigFromEnv(env))
        : v.to === "worker"
          ? createWorkerTarget({ baseUrl: v.endpoint!, apiKey: env.I3_API_KEY })
          : createLocalR2Target({ persistTo: v["persist-to"], bucketName: v.bucket, cwd });
  } catch (e) {
    if (e instanceof PublishError) {
      err(`i3 publish: ${e.message}`);
      return 2;
    }
    throw e;
  }

  const t0 = Date.now();
  try {
    if (!v.quiet) out(`publishing ${buildDir} to ${target.describe} as ${v.tenant}/${v.index}`);
    let expectPrevious: string | null | undefined;
    if (v.gate) {
      const g = await runGate(target, v.tenant, v.index, buildDir, {
        data: v.gate, split: v["gate-split"], minNdcg, maxDrop, queriesLimit: gateQueries, log: (l) => out(`  ${l}`),
      });
      const cur = g.currentNdcg === null ? "" : `; current ${g.currentVersion} nDCG@10 ${g.currentNdcg.toFixed(4)}`;
      if (!g.passed) {
        err(`i3 publish: gate refused ${buildDir}: ${g.reasons.join("; ")} (${g.queries} queries${cur}). Nothing uploaded; the pointer is unchanged.`);
        return 1;
      }
      out(`gate passed: nDCG@10 ${g.ndcg.toFixed(4)} over ${g.queries} queries${cur}`);
      if (maxDrop !== undefined) expectPrevious = g.currentVersion;
    }
    const r = await publishIndex({ buildDir, tenant: v.tenant, index: v.index, target, concurrency, expectPrevious, log: v.quiet ? undefined : (l) => out(`  ${l}`) });
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    out(
      `published ${v.tenant}/${v.index} version ${r.version} in ${secs}s: ` +
        `uploaded ${r.uploaded} objects, ${formatBytes(r.uploadedBytes)}; skipped ${r.skipped} already present; ` +
        (r.pointerMoved ? `pointer moved ${r.previousVersion ?? "(none)"} -> ${r.version}` : `pointer already at ${r.version}`),
    );
    if (v.smoke) {
      const s = await smokeSearch(v.smoke, v.tenant, v.index, r.version, { apiKey: env.I3_API_KEY });
      if (!s.ok) {
        const back = r.previousVersion ? ` Roll back with: i3 rollback --tenant ${v.tenant} --index ${v.index} --to-version ${r.previousVersion} --to ${v.to === "worker" ? "s3" : v.to}` : "";
        err(`i3 publish: smoke test failed: ${s.message}.${back}`);
        return 1;
      }
      out(`smoke test passed: ${s.message}`);
    }
    return 0;
  } catch (e) {
    if (e instanceof PublishError) {
      err(`i3 publish: ${e.code}: ${e.message}`);
      return e.code === "invalid_name" || e.code === "config" ? 2 : 1;
    }
    throw e;
  } finally {
    await target.close?.();
  }
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
