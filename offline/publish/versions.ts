import { sha256Hex } from "../../src/format/checksum.ts";
import { indexPrefix, manifestKey, validateVersion, versionIdOf } from "../../src/format/r2-keys.ts";
import { readPointer, writePointer } from "./pointer.ts";
import { forEachLimit } from "../pool.ts";
import { PublishError, type PublishTarget } from "./target.ts";

/** One published version of an index. */
export interface VersionInfo {
  version: string;
  manifestKey: string;
  /** True for the version the pointer names. */
  current: boolean;
  /** From the pointer, for the current version (the pointer keeps no history). */
  publishedAt?: string;
  /** `createdAt` of the manifest, when it has one. */
  createdAt?: string;
}

/**
 * Lists `manifests/<version>.json` under the index prefix, newest `createdAt` first (versions without one last).
 *
 * @example
 * for (const v of await listVersions(target, "demo", "scifact")) console.log(v.version, v.current);
 */
export async function listVersions(target: PublishTarget, tenant: string, index: string): Promise<VersionInfo[]> {
  const prefix = `${indexPrefix(tenant, index)}manifests/`;
  const state = await readPointer(target, tenant, index);
  const keys: string[] = [];
  for await (const key of target.list(prefix)) if (/^[0-9a-f]{16}\.json$/.test(key.slice(prefix.length))) keys.push(key);
  const out: VersionInfo[] = [];
  await forEachLimit(keys, 4, async (key) => {
    const version = key.slice(prefix.length, -".json".length);
    const info: VersionInfo = { version, manifestKey: key, current: state?.pointer?.version === version };
    if (info.current) info.publishedAt = state!.pointer!.publishedAt;
    const got = await target.get(key);
    try {
      const createdAt = got && JSON.parse(new TextDecoder().decode(got.bytes)).createdAt;
      if (typeof createdAt === "string") info.createdAt = createdAt;
    } catch {
      // an unreadable manifest still lists; `rollback` refuses it
    }
    out.push(info);
  });
  return out.sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? "") || a.version.localeCompare(b.version));
}

/**
 * Moves the pointer to an already published version (its manifest must exist and hash to its id), with the same
 * conditional write as publish: a concurrent change is `PublishError("conflict")`.
 *
 * @example
 * await rollback(target, "demo", "scifact", "3f2a9c0d11e4b5a6");
 */
export async function rollback(
  target: PublishTarget,
  tenant: string,
  index: string,
  to: string,
  opts: { now?: () => Date } = {},
): Promise<{ from: string | null; to: string }> {
  validateVersion(to);
  const key = manifestKey(tenant, index, to);
  const state = await readPointer(target, tenant, index);
  const manifest = await target.get(key);
  if (!manifest) throw new PublishError("not_found", `version ${to} of ${tenant}/${index} is not published (no ${key})`);
  const sha256 = await sha256Hex(manifest.bytes);
  if (versionIdOf(sha256) !== to) {
    throw new PublishError("invalid_build", `${key}: its sha256 ${sha256} does not match version ${to}; refusing to point at it`);
  }
  const from = state?.pointer?.version ?? null;
  if (from === to) return { from, to };
  const publishedAt = (opts.now?.() ?? new Date()).toISOString();
  await writePointer(target, tenant, index, { version: to, manifest: key, publishedAt, sha256 }, state);
  return { from, to };
}
