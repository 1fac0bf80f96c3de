// API keys: the key format, the record stored in R2, hashing and the constant-time check. Shared by the worker
// (src/worker/auth/middleware.ts) and the CLI (offline/keys/); WebCrypto only, no Node APIs.
//   key:    i3_<tenant>_<keyid>_<secret>       keyid 16 hex (64 random bits), secret 64 hex (256 random bits)
//   record: tenants/<tenant>/keys/<keyid>.json  { id, tenant, roles, hash, createdAt, revokedAt?, limits?, name? }
// The tenant travels in the key so the worker finds the record in one R2 read without looking at the tenant the
// request names: a key used on another tenant, existing or not, gets the same 403 and nothing of that tenant is read.
import * as z from "zod";
import { toHex } from "./checksum.ts";
import { matching } from "./fields.ts";
import { parseJson } from "./parse-json.ts";
import { NAME_PATTERN, validateName } from "./r2-keys.ts";

export const ROLES = ["search", "publish", "admin"] as const;
export type Role = (typeof ROLES)[number];

export const KEY_ID_PATTERN = /^[0-9a-f]{16}$/;

const positive = z.number({ error: "a positive number" }).positive({ error: "a positive number" });

/** Per-key limits; absent fields fall back to the API's own limits (and no rate limit). */
const KeyLimitsSchema = z.strictObject(
  {
    /** Sustained requests per second (token bucket, per isolate). */
    rps: positive.optional(),
    /** Bucket size: requests allowed at once (default max(1, ceil(rps))). */
    burst: positive.optional(),
    /** Longest query, in characters (at most the API's 16384). */
    maxQueryChars: positive.optional(),
    /** Largest k (at most the API's 100). */
    maxK: positive.optional(),
  },
  { error: (issue) => (issue.code === "unrecognized_keys" ? "only the limits rps, burst, maxQueryChars, maxK" : undefined) },
);
export type KeyLimits = z.output<typeof KeyLimitsSchema>;

/**
 * What R2 holds for a key: never the secret, only its SHA-256. Fields it does not know are kept (a newer CLI's
 * record survives a revoke by an older one).
 */
export const KeyRecordSchema = z.looseObject({
  id: matching(KEY_ID_PATTERN, "16 lower-case hex"),
  tenant: matching(NAME_PATTERN, "a tenant name"),
  roles: z.array(z.enum(ROLES)).min(1, { error: `a non-empty list of ${ROLES.join(", ")}` }),
  /** `sha256:<hex>` of the whole key string. */
  hash: matching(/^sha256:[0-9a-f]{64}$/, "sha256:<64 hex>"),
  /** ISO 8601 creation time (the list is sorted by it). */
  createdAt: z.string({ error: "an ISO time" }),
  revokedAt: z.string({ error: "an ISO time" }).optional(),
  limits: KeyLimitsSchema.optional(),
  /** A label for people (`--name`). */
  name: z.string().optional(),
});
export type KeyRecord = z.output<typeof KeyRecordSchema>;

const KEY_PATTERN = new RegExp(`^i3_(${NAME_PATTERN.source.slice(1, -1)})_([0-9a-f]{16})_([0-9a-f]{64})$`);

/** R2 key of a key record. */
export function keyRecordKey(tenant: string, keyId: string): string {
  if (!KEY_ID_PATTERN.test(keyId)) throw new Error(`key id: expected 16 lower-case hex characters, got ${JSON.stringify(keyId)}`);
  return `tenants/${validateName("tenant", tenant)}/keys/${keyId}.json`;
}

/** Prefix under which a tenant's key records live. */
export function keyRecordPrefix(tenant: string): string {
  return `tenants/${validateName("tenant", tenant)}/keys/`;
}

/**
 * Splits a key into tenant and key id; null when it is not `i3_<tenant>_<keyid>_<secret>`.
 *
 * @example
 * parseApiKey("i3_acme_0123456789abcdef_" + "ab".repeat(32)); // { tenant: "acme", keyId: "0123456789abcdef" }
 */
export function parseApiKey(key: string): { tenant: string; keyId: string } | null {
  const m = KEY_PATTERN.exec(key);
  return m ? { tenant: m[1], keyId: m[2] } : null;
}

/** `sha256:<hex>` of the key string. A plain hash is enough: the secret has 256 random bits, so no dictionary or
 * brute force applies, and a slow hash (scrypt, bcrypt) would only cost CPU on every request. */
export async function hashApiKey(key: string): Promise<string> {
  return `sha256:${toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key))))}`;
}

/** Compares two strings in time that depends only on their lengths (hashes of the same length here). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * True when `key` hashes to the record's hash (constant-time compare) and the record is not revoked. `hash`: the
 * key's hashApiKey, where the caller has it already (the worker remembers the hashes of the keys it has seen).
 */
export async function keyMatches(record: KeyRecord, key: string, hash?: string): Promise<boolean> {
  const ok = constantTimeEqual(hash ?? (await hashApiKey(key)), record.hash);
  return ok && !record.revokedAt;
}

/** True when the record grants `role`; `admin` grants every role. */
export function hasRole(record: KeyRecord, role: Role): boolean {
  return record.roles.includes(role) || record.roles.includes("admin");
}

/**
 * A new key and its record (the only moment the secret exists: show it once, store the record).
 *
 * @example
 * const { key, record } = await generateApiKey("acme", ["search"]);
 */
export async function generateApiKey(
  tenant: string,
  roles: Role[],
  opts: { limits?: KeyLimits; name?: string; now?: Date } = {},
): Promise<{ key: string; record: KeyRecord }> {
  validateName("tenant", tenant);
  const random = (n: number) => toHex(crypto.getRandomValues(new Uint8Array(n)));
  const id = random(8);
  const key = `i3_${tenant}_${id}_${random(32)}`;
  const record: KeyRecord = { id, tenant, roles: [...new Set(roles)], hash: await hashApiKey(key), createdAt: (opts.now ?? new Date()).toISOString() };
  if (opts.limits && Object.keys(opts.limits).length > 0) record.limits = opts.limits;
  if (opts.name) record.name = opts.name;
  return { key, record: parseKeyRecord(record) };
}

/** Validates a parsed key record; throws FormatError `invalid_key_record` naming the field. */
export function parseKeyRecord(json: unknown): KeyRecord {
  return parseJson(KeyRecordSchema, json, "key record", "invalid_key_record");
}
