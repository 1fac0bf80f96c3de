import { stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createLocalR2Target, DEFAULT_BUCKET, DEFAULT_PERSIST_TO } from "./local-r2-target.ts";
import { publishIndex } from "./publish.ts";
import { createS3Target, s3ConfigFromEnv } from "./s3-target.ts";
import { PublishError, type PublishTarget } from "./target.ts";

export const PUBLISH_USAGE = `usage: i3 publish <buildDir> --tenant <name> --index <name> --to local|s3 [options]

Uploads a build directory (manifest.json + objects/) to R2: objects first, then the manifest,
then the "current" pointer, with a conditional write so concurrent publishes cannot interleave.
Rerunning after an interruption skips objects already uploaded.

options:
  --to local            the local R2 of \`wrangler dev\` (miniflare state)
  --to s3               R2 through its S3 API; needs R2_ENDPOINT (or S3_ENDPOINT), R2_BUCKET,
                        R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY (R2_REGION optional, default auto)
  --persist-to <dir>    with --to local: wrangler's state directory (default ${DEFAULT_PERSIST_TO}
                        next to the nearest wrangler.toml, as \`wrangler dev\` does)
  --bucket <name>       with --to local: the bucket (default ${DEFAULT_BUCKET}, as in wrangler.toml)
  --concurrency <n>     uploads in flight (default 4)
  -q, --quiet           print only the summary`;

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
        concurrency: { type: "string" },
        quiet: { type: "boolean", short: "q" },
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
  if (v.to !== "local" && v.to !== "s3") return usage(v.to ? `--to must be local or s3, got ${v.to}` : "missing --to local|s3");
  if (v.to === "s3" && (v["persist-to"] || v.bucket)) return usage("--persist-to and --bucket go with --to local (s3 reads R2_BUCKET)");
  const concurrency = v.concurrency === undefined ? 4 : Number(v.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) return usage(`--concurrency must be an integer 1..64, got ${v.concurrency}`);
  const buildDir = positionals[0];
  try {
    if (!(await stat(buildDir)).isDirectory()) return usage(`${buildDir} is not a directory`);
  } catch {
    return usage(`build directory ${buildDir} not found`);
  }

  let target: PublishTarget;
  try {
    target = v.to === "s3" ? createS3Target(s3ConfigFromEnv(env)) : createLocalR2Target({ persistTo: v["persist-to"], bucketName: v.bucket, cwd });
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
    const r = await publishIndex({ buildDir, tenant: v.tenant, index: v.index, target, concurrency, log: v.quiet ? undefined : (l) => out(`  ${l}`) });
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    out(
      `published ${v.tenant}/${v.index} version ${r.version} in ${secs}s: ` +
        `uploaded ${r.uploaded} objects, ${formatBytes(r.uploadedBytes)}; skipped ${r.skipped} already present; ` +
        (r.pointerMoved ? `pointer moved ${r.previousVersion ?? "(none)"} -> ${r.version}` : `pointer already at ${r.version}`),
    );
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
