// The storage side of the commands that talk to R2 (`i3 publish`, `versions`, `rollback`, `gc`, `keys`): the `--to`
// flags and the one place that turns them into a PublishTarget, and the runner that maps storage errors to exit codes.
import { isFormatError } from "../../src/format/errors.ts";
import { validateName } from "../../src/format/r2-keys.ts";
import { runCommand, STDIO, UsageError, type CommandIO } from "../command.ts";
import { createLocalR2Target, DEFAULT_BUCKET, DEFAULT_PERSIST_TO } from "./local-r2-target.ts";
import { createS3Target, s3ConfigFromEnv } from "./s3-target.ts";
import { isPublishError, PublishError, type PublishTarget } from "./target.ts";
import { createWorkerTarget } from "./worker-target.ts";

export type TargetKind = "local" | "s3" | "worker";

/** Where a storage command writes, and the environment and directory it resolves its target against. */
export interface StorageIO extends CommandIO {
  env: Record<string, string | undefined>;
  cwd: string;
}

/** The IO of a storage command: the given parts, the process's for the rest. */
export function storageIO(io: Partial<StorageIO> = {}): StorageIO {
  return { out: io.out ?? STDIO.out, err: io.err ?? STDIO.err, env: io.env ?? process.env, cwd: io.cwd ?? process.cwd() };
}

/** parseArgs options of the target flags; `WORKER_FLAGS` too where `--to worker` is offered. */
export const TARGET_FLAGS = {
  to: { type: "string" },
  "persist-to": { type: "string" },
  bucket: { type: "string" },
} as const;

export const WORKER_FLAGS = { endpoint: { type: "string" } } as const;

/** Usage lines of the target flags. */
export function targetUsage(kinds: readonly TargetKind[], fallback?: TargetKind): string {
  const lines = [
    `${`  --to ${kinds.join("|")}`.padEnd(24)}where the index lives${fallback ? ` (default ${fallback})` : ""}:`,
    "    local               the local R2 of `wrangler dev` (miniflare state)",
    "    s3                  R2 through its S3 API; needs R2_ENDPOINT (or S3_ENDPOINT), R2_BUCKET,",
    "                        R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY (R2_REGION optional, default auto)",
  ];
  if (kinds.includes("worker")) {
    lines.push(
      "    worker              the worker's own admin routes; needs --endpoint and I3_API_KEY, an API key",
      "                        of the tenant with the publish role (no R2 credentials)",
      "  --endpoint <url>      with --to worker: the worker's base URL, e.g. https://i3.example.workers.dev",
    );
  }
  lines.push(
    `  --persist-to <dir>    with --to local: wrangler's state directory (default ${DEFAULT_PERSIST_TO}`,
    "                        next to the nearest wrangler.toml, as `wrangler dev` does)",
    `  --bucket <name>       with --to local: the bucket (default ${DEFAULT_BUCKET}, as in wrangler.toml)`,
  );
  return lines.join("\n");
}

export interface TargetFlagValues {
  to?: string;
  "persist-to"?: string;
  bucket?: string;
  endpoint?: string;
}

/**
 * The target the flags name, among `kinds` (`fallback` when --to is absent). A bad combination of flags, a missing
 * S3 variable or API key is a UsageError (exit 2).
 *
 * @example
 * const target = openTarget({ to: "s3" }, storageIO(), ["local", "s3"], "local");
 */
export function openTarget(v: TargetFlagValues, io: Pick<StorageIO, "env" | "cwd">, kinds: readonly TargetKind[], fallback?: TargetKind): PublishTarget {
  const to = v.to ?? fallback;
  if (to === undefined) throw new UsageError(`missing --to ${kinds.join("|")}`);
  if (!(kinds as readonly string[]).includes(to)) throw new UsageError(`--to must be ${kinds.join(", ").replace(/, (\w+)$/, " or $1")}, got ${to}`);
  if (to !== "local" && (v["persist-to"] || v.bucket)) {
    throw new UsageError(`--persist-to and --bucket go with --to local (${to === "s3" ? "s3 reads R2_BUCKET" : "not --to worker"})`);
  }
  if (to !== "worker" && v.endpoint) throw new UsageError("--endpoint goes with --to worker");
  try {
    if (to === "s3") return createS3Target(s3ConfigFromEnv(io.env));
    if (to === "worker") {
      if (!v.endpoint) throw new UsageError("--to worker needs --endpoint <the worker's base URL>");
      if (!io.env.I3_API_KEY) throw new UsageError("--to worker needs I3_API_KEY: an API key of the tenant with the publish role");
      return createWorkerTarget({ baseUrl: v.endpoint, apiKey: io.env.I3_API_KEY });
    }
    return createLocalR2Target({ persistTo: v["persist-to"], bucketName: v.bucket, cwd: io.cwd });
  } catch (e) {
    throw asUsage(e);
  }
}

/** A tenant or index name as given, or a UsageError saying what a name may be. */
export function nameFlag(kind: "tenant" | "index", v: string | undefined): string {
  if (!v) throw new UsageError(`missing --${kind}`);
  try {
    return validateName(kind, v);
  } catch (e) {
    throw asUsage(e);
  }
}

/** Runs `fn` with the target, then releases it (a local target holds a miniflare instance). */
export async function withTarget<T>(target: PublishTarget, fn: (t: PublishTarget) => Promise<T>): Promise<T> {
  try {
    return await fn(target);
  } finally {
    await target.close?.();
  }
}

/**
 * `runCommand` for a storage command: a configuration error or an invalid name is a usage error (exit 2); another
 * PublishError exits 1 with its code before the message (`conflict: ...`).
 *
 * @example
 * return runStorageCommand("versions", VERSIONS_USAGE, argv, io, async () => { ... });
 */
export function runStorageCommand(name: string, usage: string, argv: string[], io: CommandIO, fn: () => Promise<unknown>): Promise<number> {
  return runCommand(name, usage, argv, io, async () => {
    try {
      await fn();
    } catch (e) {
      const u = asUsage(e);
      if (u instanceof PublishError) throw new Error(`${u.code}: ${u.message}`, { cause: u });
      throw u;
    }
  });
}

function asUsage(e: unknown): unknown {
  if (isPublishError(e, "config") || isPublishError(e, "invalid_name") || isFormatError(e, "invalid_name")) {
    return new UsageError(e.message, { cause: e });
  }
  return e;
}
