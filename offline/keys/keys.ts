// API key records through a PublishTarget: create (the secret is returned once, only its hash is stored), list, revoke.
import { generateApiKey, keyRecordKey, keyRecordPrefix, parseKeyRecord, type KeyLimits, type KeyRecord, type Role } from "../../src/format/api-key.ts";
import { PublishError, type PublishTarget } from "../publish/target.ts";

/**
 * Creates a key for `tenant` with `roles`; writes only its record (If-None-Match, so an id collision never
 * overwrites). Returns the key: show it once, it cannot be recovered.
 *
 * @example
 * const { key, record } = await createKey(target, "acme", ["search"], { limits: { rps: 10 } });
 */
export async function createKey(
  target: PublishTarget,
  tenant: string,
  roles: Role[],
  opts: { limits?: KeyLimits; name?: string } = {},
): Promise<{ key: string; record: KeyRecord }> {
  const made = await generateApiKey(tenant, roles, opts);
  await target.put(keyRecordKey(tenant, made.record.id), new TextEncoder().encode(JSON.stringify(made.record, null, 2)), {
    contentType: "application/json",
    ifNoneMatch: "*",
  });
  return made;
}

/** The tenant's key records (revoked ones included), oldest first. */
export async function listKeys(target: PublishTarget, tenant: string): Promise<KeyRecord[]> {
  const out: KeyRecord[] = [];
  for await (const key of target.list(keyRecordPrefix(tenant))) {
    const got = await target.get(key);
    if (!got) continue;
    try {
      out.push(parseKeyRecord(JSON.parse(new TextDecoder().decode(got.bytes))));
    } catch {
      // not a key record: skipped
    }
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/**
 * Marks a key revoked (the record stays, for the audit trail). Workers stop accepting it within their key cache
 * TTL (`KEY_CACHE_TTL_MS`, 30 s). Conditional on the record's etag, so a concurrent change is not lost.
 */
export async function revokeKey(target: PublishTarget, tenant: string, keyId: string, now = new Date()): Promise<KeyRecord> {
  const k = keyRecordKey(tenant, keyId);
  const got = await target.get(k);
  if (!got) throw new PublishError("not_found", `no key ${keyId} for tenant ${tenant}`);
  const record = parseKeyRecord(JSON.parse(new TextDecoder().decode(got.bytes)));
  if (record.revokedAt) return record;
  const next = { ...record, revokedAt: now.toISOString() };
  await target.put(k, new TextEncoder().encode(JSON.stringify(next, null, 2)), { contentType: "application/json", ifMatch: got.etag });
  return next;
}
