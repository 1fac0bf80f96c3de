// The `--to local|s3 [--persist-to] [--bucket]` flags every command that talks to R2 shares.
import { createLocalR2Target, DEFAULT_BUCKET, DEFAULT_PERSIST_TO } from "./local-r2-target.ts";
import { createS3Target, s3ConfigFromEnv } from "./s3-target.ts";
import { PublishError, type PublishTarget } from "./target.ts";

/** parseArgs options of the target flags. */
export const TARGET_OPTIONS = {
  to: { type: "string" },
  "persist-to": { type: "string" },
  bucket: { type: "string" },
} as const;

export const TARGET_USAGE = `  --to local|s3         local: the local R2 of \`wrangler dev\` (default); s3: R2's S3 API, from
                        R2_ENDPOINT, R2_BUCKET, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY
  --persist-to <dir>    with --to local: wrangler's state directory (default ${DEFAULT_PERSIST_TO})
  --bucket <name>       with --to local: the bucket (default ${DEFAULT_BUCKET})`;

/**
 * The target the flags name; a bad combination or missing S3 variable is `PublishError("config")`.
 *
 * @example
 * const target = openTarget({ to: "s3" }, process.env, process.cwd());
 */
export function openTarget(
  v: { to?: string; "persist-to"?: string; bucket?: string },
  env: Record<string, string | undefined>,
  cwd: string,
): PublishTarget {
  const to = v.to ?? "local";
  if (to !== "local" && to !== "s3") throw new PublishError("config", `--to must be local or s3, got ${to}`);
  if (to === "s3") {
    if (v["persist-to"] || v.bucket) throw new PublishError("config", "--persist-to and --bucket go with --to local (s3 reads R2_BUCKET)");
    return createS3Target(s3ConfigFromEnv(env));
  }
  return createLocalR2Target({ persistTo: v["persist-to"], bucketName: v.bucket, cwd });
}
