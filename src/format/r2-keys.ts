// R2 key layout. Every key of an index lives under its prefix; names are validated so none can escape it.
//   tenants/<tenant>/indexes/<index>/objects/<sha256>.<ext>   content-addressed objects (immutable)
//   tenants/<tenant>/indexes/<index>/manifests/<version>.json  one manifest per published version (immutable)
//   tenants/<tenant>/indexes/<index>/current                   the pointer, written last
import { FormatError } from "./errors.ts";
import { quoted } from "../errors.ts";

/** Tenant and index names: lower-case letters, digits, `_` and `-`, 1 to 63 characters, starting alphanumeric. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
/** An object path inside a build directory or index prefix: `objects/<sha256>.<ext>`. */
export const OBJECT_PATH_PATTERN = /^objects\/([0-9a-f]{64})\.([a-z0-9]{1,16}(?:\.[a-z0-9]{1,16})?)$/;
/** A version id: the first 16 hex characters of the SHA-256 of the manifest bytes. */
export const VERSION_PATTERN = /^[0-9a-f]{16}$/;

/**
 * Throws `invalid_name` unless `name` matches NAME_PATTERN.
 *
 * @example
 * validateName("tenant", "acme"); // ok
 * validateName("index", "../x");  // throws FormatError invalid_name
 */
export function validateName(kind: "tenant" | "index", name: unknown): string {
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) {
    throw new FormatError(
      "invalid_name",
      `${kind} name: expected ${NAME_PATTERN} (lower-case, digits, _ or -, at most 63), got ${quoted(name)}`,
    );
  }
  return name;
}

/** Throws `invalid_name` unless `version` is 16 lower-case hex characters. */
export function validateVersion(version: unknown): string {
  if (typeof version !== "string" || !VERSION_PATTERN.test(version)) {
    throw new FormatError("invalid_name", `version: expected 16 lower-case hex characters, got ${quoted(version)}`);
  }
  return version;
}

/** Throws `invalid_name` unless `path` is `objects/<sha256>.<ext>`. */
export function validateObjectPath(path: unknown): string {
  if (typeof path !== "string" || !OBJECT_PATH_PATTERN.test(path)) {
    throw new FormatError("invalid_name", `object path: expected "objects/<sha256>.<ext>", got ${quoted(path)}`);
  }
  return path;
}

/** `tenants/<tenant>/indexes/<index>/`, with a trailing slash. */
export function indexPrefix(tenant: string, index: string): string {
  return `tenants/${validateName("tenant", tenant)}/indexes/${validateName("index", index)}/`;
}

/**
 * R2 key of an object listed in a manifest.
 *
 * @example
 * objectKey("acme", "docs", "objects/ab12...ef.i3vs"); // "tenants/acme/indexes/docs/objects/ab12...ef.i3vs"
 */
export function objectKey(tenant: string, index: string, path: string): string {
  return indexPrefix(tenant, index) + validateObjectPath(path);
}

/** R2 key of the manifest of `version`. */
export function manifestKey(tenant: string, index: string, version: string): string {
  return `${indexPrefix(tenant, index)}manifests/${validateVersion(version)}.json`;
}

/** R2 key of the pointer to the current version. */
export function pointerKey(tenant: string, index: string): string {
  return `${indexPrefix(tenant, index)}current`;
}

/**
 * Version id of a manifest: the first 16 hex characters of its sha256 (`sha256Hex(manifestBytes)`).
 *
 * @example
 * const version = versionIdOf(await sha256Hex(bytes));
 */
export function versionIdOf(manifestSha256: string): string {
  return manifestSha256.slice(0, 16);
}
