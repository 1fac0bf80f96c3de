// The pointer object (`.../current`): which manifest version is live. Written last on publish.
import { FormatError } from "./errors.ts";
import { manifestKey, VERSION_PATTERN } from "./r2-keys.ts";

/** Contents of the pointer object. */
export interface Pointer {
  /** Version id: first 16 hex characters of `sha256`. */
  version: string;
  /** R2 key of the manifest (`manifestKey(tenant, index, version)`). */
  manifest: string;
  /** ISO 8601 time of publication. */
  publishedAt: string;
  /** SHA-256 of the manifest bytes. */
  sha256: string;
}

/**
 * Validates a parsed pointer; with `tenant` and `index`, also that it points inside that index.
 * Throws `invalid_pointer`.
 *
 * @example
 * const p = parsePointer(await obj.json(), { tenant: "acme", index: "docs" });
 */
export function parsePointer(json: unknown, where?: { tenant: string; index: string }): Pointer {
  const bad = (msg: string) => new FormatError("invalid_pointer", `pointer: ${msg}`);
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw bad(`expected an object, got ${typeof json}`);
  const o = json as Record<string, unknown>;
  const { version, manifest, publishedAt, sha256 } = o;
  if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) throw bad(`sha256: expected 64 hex, got ${JSON.stringify(sha256)}`);
  if (typeof version !== "string" || !VERSION_PATTERN.test(version)) throw bad(`version: expected 16 hex, got ${JSON.stringify(version)}`);
  if (!sha256.startsWith(version)) throw bad(`version: expected ${sha256.slice(0, 16)} (sha256 prefix), got ${version}`);
  if (typeof publishedAt !== "string" || Number.isNaN(Date.parse(publishedAt))) {
    throw bad(`publishedAt: expected an ISO 8601 time, got ${JSON.stringify(publishedAt)}`);
  }
  if (typeof manifest !== "string" || !manifest.endsWith(`/manifests/${version}.json`)) {
    throw bad(`manifest: expected a key ending in /manifests/${version}.json, got ${JSON.stringify(manifest)}`);
  }
  if (where) {
    const want = manifestKey(where.tenant, where.index, version);
    if (manifest !== want) throw bad(`manifest: expected ${want}, got ${manifest}`);
  }
  return { version, manifest, publishedAt, sha256 };
}

/** The pointer as JSON, keys in a fixed order. */
export function serializePointer(p: Pointer): string {
  return JSON.stringify({ version: p.version, manifest: p.manifest, publishedAt: p.publishedAt, sha256: p.sha256 }) + "\n";
}
