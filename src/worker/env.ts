// The worker's bindings (wrangler.toml) and its configuration: every string var parsed once, by one schema, into
// typed values. A bad value is a coded error that names the var, never a NaN that quietly turns a feature off.
import * as z from "zod";
import { quoted } from "../errors";
import { DEFAULT_CACHE_BUDGET_BYTES } from "../search/budget";

/** Bindings of the worker (wrangler.toml): R2 and the string vars below. */
export interface Env extends Vars {
  /** Index objects, manifests, pointers and models, under `tenants/<tenant>/indexes/<index>/`. */
  INDEXES: R2Bucket;
  /**
   * Optional Workers Rate Limiting binding (`[[ratelimits]]` in wrangler.toml): failed authentications per client
   * counted across the isolates of a Cloudflare location. Absent: only the per-isolate limit applies.
   */
  AUTH_FAILURE_LIMITER?: RateLimit;
}

/** The string vars of the worker, as wrangler passes them (`[vars]`, `--var`, the dashboard). */
export type Vars = { [K in keyof typeof VARS]?: string };

/** A whole number from `min` to `max` (a var's text; spaces around it are fine). */
function whole(what: string, min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d{1,16}$/, { error: (iss) => `expected ${what}, a whole number, got ${quoted(iss.input)}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: (iss) => `expected ${what} from ${min} to ${max}, got ${iss.input}` });
}

/** `*`, or a comma-separated list of origins (`https://app.example.com`, scheme, host and port only); "" for none. */
const origins = z
  .string()
  .transform((s, ctx) => {
    if (s.trim() === "*") return "*" as const;
    const list = s.split(",").map((o) => o.trim()).filter(Boolean);
    for (const o of list) {
      if (!/^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$/i.test(o)) {
        ctx.addIssue({ code: "custom", message: `expected "*" or origins like https://app.example.com (no path), got ${quoted(o)}` });
      }
    }
    return list.map((o) => o.toLowerCase());
  });

/**
 * Every var with its schema and default. To add one: a line here and one in Config (and in wrangler.toml and the
 * README's configuration table).
 */
const VARS = {
  /** How often (ms) a warm isolate re-reads an index's `current` pointer (default 10000). */
  POINTER_TTL_MS: whole("milliseconds", 0, 86_400_000).default(10_000),
  /** Isolate cache budget (bytes) for models, manifests and shards (default 64 MiB). */
  CACHE_BUDGET_BYTES: whole("bytes", 1024 * 1024, 16 * 1024 * 1024 * 1024).default(DEFAULT_CACHE_BUDGET_BYTES),
  /** `"off"` turns API keys off for this deployment (default `"on"`). */
  AUTH: z.enum(["on", "off"], { error: (iss) => `expected "on" or "off", got ${quoted(iss.input)}` }).default("on"),
  /** How long (ms) an isolate caches a key record: a revoke takes effect within it (default 30000). */
  KEY_CACHE_TTL_MS: whole("milliseconds", 0, 86_400_000).default(30_000),
  /** Origins allowed to call the API from a browser (CORS): `*` or a comma-separated list (default: none). */
  CORS_ORIGINS: origins.default([]),
  /**
   * Failed authentications one client (CF-Connecting-IP) may make per minute in one isolate, as a burst of as many,
   * before 429 `rate_limited` (default 30).
   */
  AUTH_FAILURES_PER_MINUTE: whole("failures a minute", 1, 1_000_000).default(30),
  /** First retry (ms) of a version whose load failed for a transient reason (an R2 error); doubles up to 30x (default 2000). */
  LOAD_RETRY_MS: whole("milliseconds", 0, 3_600_000).default(2_000),
  /**
   * A secret (`wrangler secret put COLO_SHARE_SECRET`, at least 32 characters, one per deployment): with it, API key
   * records are shared with the colo's other isolates of this deployment, sealed with it (src/worker/store/colo-seal.ts),
   * so a new isolate checks a key without an R2 read, query vectors are shared sealed (never one another Worker on
   * the zone put there), and the int4 rows of partitions an isolate made are shared (src/worker/store/partitions.ts).
   * Unset (default): each isolate reads key records from R2, query vectors are shared unsealed, and an index planned
   * int4 whose rows do not stay resident is scanned at int8.
   */
  COLO_SHARE_SECRET: z.string({ error: "expected a string" }).refine((v) => v.length >= 32, {
    error: (iss) => `expected at least 32 characters, got ${(iss.input as string).length}`, // never the secret itself
  }).optional(),
  /** Benchmarks only: delay every R2 read by about this many ms, as a deployed Worker waits for R2 (default 0). */
  SIMULATED_R2_LATENCY_MS: whole("milliseconds", 0, 60_000).default(0),
  /**
   * Benchmarks only: delay every read of the colo's cache (Cache API `match`) by about this many ms (default 0). Locally
   * the colo cache answers at once; a deployed Worker's cache reads take a few ms each, six at a time, so the number of
   * reads a query waits for one after another shows only with a delay.
   */
  SIMULATED_COLO_LATENCY_MS: whole("milliseconds", 0, 60_000).default(0),
} as const;

const VarsSchema = z.object(VARS);

/** The worker's configuration: its vars, parsed. */
export interface Config {
  pointerTtlMs: number;
  cacheBudgetBytes: number;
  /** False when `AUTH = "off"`. */
  auth: boolean;
  keyCacheTtlMs: number;
  /** `"*"`, or the allowed origins (lower case); empty: no cross-origin access. */
  corsOrigins: "*" | string[];
  authFailuresPerMinute: number;
  loadRetryMs: number;
  simulatedR2LatencyMs: number;
  simulatedColoLatencyMs: number;
  /** COLO_SHARE_SECRET; absent: key records are not shared through the colo, query vectors are (unsealed). */
  coloShareSecret?: string;
}

/** A var with a value its schema refuses; `vars` names each bad var with what was expected and what came. */
export class ConfigError extends Error {
  constructor(readonly vars: Array<{ name: string; problem: string }>) {
    super(`invalid configuration: ${vars.map((v) => `${v.name}: ${v.problem}`).join("; ")}`);
    this.name = "ConfigError";
  }
}

const parsed = new WeakMap<object, Config | ConfigError>();

/**
 * The configuration of `env`, parsed once per env object (an isolate keeps its env), the failure too; throws a
 * ConfigError naming every bad var (the app's onError answers it 500 `config_error`, naming the vars, and logs it).
 *
 * @example
 * const { pointerTtlMs } = configOf(env); // or throws ConfigError for POINTER_TTL_MS = "abc"
 */
export function configOf(env: Vars): Config {
  let c = parsed.get(env);
  if (!c) {
    c = parseConfig(env);
    parsed.set(env, c);
  }
  if (c instanceof ConfigError) throw c;
  return c;
}

function parseConfig(env: Vars): Config | ConfigError {
  const vars = Object.fromEntries(Object.keys(VARS).map((k) => [k, text(env[k as keyof Vars])]));
  const r = VarsSchema.safeParse(vars);
  if (!r.success) return new ConfigError(r.error.issues.map((i) => ({ name: String(i.path[0]), problem: i.message })));
  const v = r.data;
  return {
    pointerTtlMs: v.POINTER_TTL_MS,
    cacheBudgetBytes: v.CACHE_BUDGET_BYTES,
    auth: v.AUTH === "on",
    keyCacheTtlMs: v.KEY_CACHE_TTL_MS,
    corsOrigins: v.CORS_ORIGINS,
    authFailuresPerMinute: v.AUTH_FAILURES_PER_MINUTE,
    loadRetryMs: v.LOAD_RETRY_MS,
    simulatedR2LatencyMs: v.SIMULATED_R2_LATENCY_MS,
    simulatedColoLatencyMs: v.SIMULATED_COLO_LATENCY_MS,
    ...(v.COLO_SHARE_SECRET ? { coloShareSecret: v.COLO_SHARE_SECRET } : {}),
  };
}

/** A var's text: a number as wrangler.toml may give it, as text; "" as unset (its default); anything else as it is. */
function text(v: unknown): unknown {
  if (typeof v === "number") return String(v);
  return typeof v === "string" && v.trim() === "" ? undefined : v;
}
