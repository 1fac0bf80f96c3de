// `i3 keys create | list | revoke`: argv -> options -> run against the target; return the exit code (0 done,
// 1 failed, 2 bad usage or configuration).
import { KEY_ID_PATTERN, ROLES, type KeyLimits, type Role } from "../../src/format/api-key.ts";
import { numberFlag, parseFlags, UsageError } from "../command.ts";
import { nameFlag, openTarget, runStorageCommand, storageIO, TARGET_FLAGS, targetUsage, withTarget, type StorageIO, type TargetKind } from "../publish/target-flags.ts";
import type { PublishTarget } from "../publish/target.ts";
import { createKey, listKeys, revokeKey } from "./keys.ts";

const KINDS: readonly TargetKind[] = ["local", "s3"];

export const KEYS_USAGE = `usage: i3 keys create --tenant <t> --roles search[,publish,admin] [limits] [--name <label>] [--json]
       i3 keys list   --tenant <t> [--json]
       i3 keys revoke --tenant <t> <keyid>

API keys of the worker. A key is i3_<tenant>_<keyid>_<secret>; it is printed once by \`create\` and only its
SHA-256 is stored (tenants/<t>/keys/<keyid>.json). Workers cache key records for KEY_CACHE_TTL_MS (30 s):
a revoke takes effect within that.

limits (per key, enforced per worker isolate):
  --rps <n> [--burst <n>]   requests per second (token bucket; burst default ceil(rps))
  --max-query-chars <n>     longest query
  --max-k <n>               largest k

storage:
${targetUsage(KINDS, "local")}
  --verbose             stack traces on errors`;

const FLAGS = {
  ...TARGET_FLAGS,
  tenant: { type: "string" }, roles: { type: "string" }, name: { type: "string" },
  rps: { type: "string" }, burst: { type: "string" }, "max-query-chars": { type: "string" }, "max-k": { type: "string" },
  json: { type: "boolean" }, verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseFlags<typeof FLAGS>>["values"];

/** `i3 keys …`. Exit codes: 0 done, 1 failed, 2 bad usage or configuration. */
export async function runKeysCommand(argv: string[], io: Partial<StorageIO> = {}): Promise<number> {
  const sio = storageIO(io);
  return runStorageCommand("keys", KEYS_USAGE, argv, sio, async () => {
    const { values: v, positionals } = parseFlags(argv, FLAGS);
    const [sub, ...rest] = positionals;
    if (sub !== "create" && sub !== "list" && sub !== "revoke") throw new UsageError(sub ? `unknown subcommand ${sub}` : "missing subcommand");
    if (sub === "revoke" && rest.length !== 1) throw new UsageError("revoke takes one <keyid>");
    if (sub !== "revoke" && rest.length > 0) throw new UsageError(`unexpected ${rest.join(" ")}`);
    const tenant = nameFlag("tenant", v.tenant);
    const run = sub === "create" ? create(v, sio) : sub === "list" ? list(v, sio) : revoke(rest[0], sio);
    await withTarget(openTarget(v, sio, KINDS, "local"), (target) => run(target, tenant));
  });
}

function create(v: Values, io: StorageIO) {
  if (!v.roles) throw new UsageError("missing --roles (search, publish, admin; comma-separated)");
  const names = v.roles.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0 || names.some((r) => !(ROLES as readonly string[]).includes(r))) throw new UsageError(`--roles: expected ${ROLES.join(", ")}, got ${v.roles}`);
  const limits: KeyLimits = {};
  for (const [flag, field] of [["rps", "rps"], ["burst", "burst"], ["max-query-chars", "maxQueryChars"], ["max-k", "maxK"]] as const) {
    const n = numberFlag(flag, v[flag], 0);
    if (n === 0) throw new UsageError(`--${flag} must be a positive number, got 0`);
    if (n !== undefined) limits[field] = n;
  }
  return async (target: PublishTarget, tenant: string) => {
    const { key, record } = await createKey(target, tenant, names as Role[], { limits, name: v.name });
    if (v.json) return io.out(JSON.stringify({ key, id: record.id, tenant: record.tenant, roles: record.roles, limits: record.limits }));
    io.out(`created key ${record.id} for tenant ${record.tenant} (roles ${record.roles.join(",")}) on ${target.describe}`);
    io.out(`this is the only time the key is shown; store it now:`);
    io.out(key);
  };
}

function list(v: Values, io: StorageIO) {
  return async (target: PublishTarget, tenant: string) => {
    const keys = await listKeys(target, tenant);
    if (v.json) return io.out(JSON.stringify(keys.map(({ hash: _h, ...r }) => r)));
    io.out(`${keys.length} keys of tenant ${tenant} on ${target.describe}`);
    for (const k of keys) {
      const lim = k.limits ? ` limits ${JSON.stringify(k.limits)}` : "";
      io.out(`${k.id}  ${k.roles.join(",").padEnd(20)} created ${k.createdAt}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ""}${k.name ? `  ${k.name}` : ""}${lim}`);
    }
  };
}

function revoke(keyId: string, io: StorageIO) {
  if (!KEY_ID_PATTERN.test(keyId)) throw new UsageError(`key id: expected 16 lower-case hex characters, got ${JSON.stringify(keyId)}`);
  return async (target: PublishTarget, tenant: string) => {
    const r = await revokeKey(target, tenant, keyId);
    io.out(`revoked key ${r.id} of tenant ${r.tenant} at ${r.revokedAt} (workers stop accepting it within their key cache TTL, 30 s by default)`);
  };
}
