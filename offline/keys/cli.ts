import { parseArgs } from "node:util";
import { ROLES, type KeyLimits, type Role } from "../../src/format/api-key.ts";
import { openTarget, TARGET_OPTIONS, TARGET_USAGE } from "../publish/target-flags.ts";
import { PublishError, type PublishTarget } from "../publish/target.ts";
import { createKey, listKeys, revokeKey } from "./keys.ts";

export const KEYS_USAGE = `usage: i3 keys create --tenant <t> --roles search[,publish,admin] [limits] [--name <label>] [--json]
       i3 keys list   --tenant <t>
       i3 keys revoke --tenant <t> <keyid>

API keys of the worker. A key is i3_<tenant>_<keyid>_<secret>; it is printed once by \`create\` and only its
SHA-256 is stored (tenants/<t>/keys/<keyid>.json). Workers cache key records for KEY_CACHE_TTL_MS (30 s):
a revoke takes effect within that.

limits (per key, enforced per worker isolate):
  --rps <n> [--burst <n>]   requests per second (token bucket; burst default ceil(rps))
  --max-query-chars <n>     longest query
  --max-k <n>               largest k

storage:
${TARGET_USAGE}`;

export interface KeysIO {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
}

/** `i3 keys …`. Exit codes: 0 done, 1 failed, 2 bad usage or configuration. */
export async function runKeysCommand(argv: string[], io: Partial<KeysIO> = {}): Promise<number> {
  const out = io.out ?? ((l: string) => console.log(l));
  const err = io.err ?? ((l: string) => console.error(l));
  const usage = (msg: string) => (err(`i3 keys: ${msg}\n\n${KEYS_USAGE}`), 2);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...TARGET_OPTIONS,
        tenant: { type: "string" },
        roles: { type: "string" },
        name: { type: "string" },
        rps: { type: "string" },
        burst: { type: "string" },
        "max-query-chars": { type: "string" },
        "max-k": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return (out(KEYS_USAGE), 0);
  const [sub, ...rest] = positionals;
  if (!sub || !["create", "list", "revoke"].includes(sub)) return usage(sub ? `unknown subcommand ${sub}` : "missing subcommand");
  if (!v.tenant) return usage("missing --tenant");

  let roles: Role[] = [];
  const limits: KeyLimits = {};
  if (sub === "create") {
    if (!v.roles) return usage("missing --roles (search, publish, admin; comma-separated)");
    const names = v.roles.split(",").map((s) => s.trim()).filter(Boolean);
    const bad = names.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (bad.length > 0 || names.length === 0) return usage(`--roles: expected ${ROLES.join(", ")}, got ${v.roles}`);
    roles = names as Role[];
    for (const [flag, field] of [["rps", "rps"], ["burst", "burst"], ["max-query-chars", "maxQueryChars"], ["max-k", "maxK"]] as const) {
      const raw = v[flag];
      if (raw === undefined) continue;
      const n = Number(raw);
      if (!(n > 0) || !Number.isFinite(n)) return usage(`--${flag} must be a positive number, got ${raw}`);
      limits[field] = n;
    }
  }
  if (sub === "revoke" && rest.length !== 1) return usage("revoke takes one <keyid>");
  if (sub !== "revoke" && rest.length > 0) return usage(`unexpected ${rest.join(" ")}`);

  let target: PublishTarget;
  try {
    target = openTarget(v, io.env ?? process.env, io.cwd ?? process.cwd());
  } catch (e) {
    if (e instanceof PublishError) return (err(`i3 keys: ${e.message}`), 2);
    throw e;
  }
  try {
    if (sub === "create") {
      const { key, record } = await createKey(target, v.tenant, roles, { limits, name: v.name });
      if (v.json) out(JSON.stringify({ key, id: record.id, tenant: record.tenant, roles: record.roles, limits: record.limits }));
      else {
        out(`created key ${record.id} for tenant ${record.tenant} (roles ${record.roles.join(",")}) on ${target.describe}`);
        out(`this is the only time the key is shown; store it now:`);
        out(key);
      }
    } else if (sub === "list") {
      const keys = await listKeys(target, v.tenant);
      if (v.json) out(JSON.stringify(keys.map(({ hash: _h, ...r }) => r)));
      else {
        out(`${keys.length} keys of tenant ${v.tenant} on ${target.describe}`);
        for (const k of keys) {
          const lim = k.limits ? ` limits ${JSON.stringify(k.limits)}` : "";
          out(`${k.id}  ${k.roles.join(",").padEnd(20)} created ${k.createdAt}${k.revokedAt ? `  REVOKED ${k.revokedAt}` : ""}${k.name ? `  ${k.name}` : ""}${lim}`);
        }
      }
    } else {
      const r = await revokeKey(target, v.tenant, rest[0]);
      out(`revoked key ${r.id} of tenant ${r.tenant} at ${r.revokedAt} (workers stop accepting it within their key cache TTL, 30 s by default)`);
    }
    return 0;
  } catch (e) {
    if (e instanceof PublishError) return (err(`i3 keys: ${e.code}: ${e.message}`), e.code === "config" ? 2 : 1);
    if (e instanceof Error && /^(key id|tenant name)/.test(e.message)) return usage(e.message);
    throw e;
  } finally {
    await target.close?.();
  }
}
