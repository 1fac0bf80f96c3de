// The pointer object (`.../current`): which manifest version is live. Written last on publish.
import * as z from "zod";
import { isoTime, matching, reject, sha256Field } from "./fields.ts";
import { fail, parseJson } from "./parse-json.ts";
import { manifestKey, VERSION_PATTERN } from "./r2-keys.ts";

/** Contents of the pointer object; `version` is the sha256's prefix and names the manifest key. */
export const PointerSchema = z
  .object({
    /** Version id: first 16 hex characters of `sha256`. */
    version: matching(VERSION_PATTERN, "16 lower-case hex"),
    /** R2 key of the manifest (`manifestKey(tenant, index, version)`). */
    manifest: z.string(),
    /** ISO 8601 time of publication. */
    publishedAt: isoTime,
    /** SHA-256 of the manifest bytes. */
    sha256: sha256Field,
  })
  .superRefine((p, ctx) => {
    if (!p.sha256.startsWith(p.version)) reject(ctx, ["version"], `${p.sha256.slice(0, 16)} (sha256 prefix)`, p.version);
    const suffix = `/manifests/${p.version}.json`;
    if (!p.manifest.endsWith(suffix)) reject(ctx, ["manifest"], `a key ending in ${suffix}`, p.manifest);
  });

/** Contents of the pointer object. */
export type Pointer = z.output<typeof PointerSchema>;

/**
 * Validates a parsed pointer; with `tenant` and `index`, also that it points inside that index.
 * Throws `invalid_pointer`.
 *
 * @example
 * const p = parsePointer(await obj.json(), { tenant: "acme", index: "docs" });
 */
export function parsePointer(json: unknown, where?: { tenant: string; index: string }): Pointer {
  const pointer = parseJson(PointerSchema, json, "pointer", "invalid_pointer");
  if (where) {
    const want = manifestKey(where.tenant, where.index, pointer.version);
    if (pointer.manifest !== want) fail("invalid_pointer", "pointer.manifest", want, pointer.manifest);
  }
  return pointer;
}

/** The pointer as JSON, keys in a fixed order. */
export function serializePointer(p: Pointer): string {
  return JSON.stringify({ version: p.version, manifest: p.manifest, publishedAt: p.publishedAt, sha256: p.sha256 }) + "\n";
}
