import { indexPrefix, OBJECT_PATH_PATTERN } from "../../src/format/r2-keys.ts";
import { readPointer } from "./pointer.ts";
import { PublishError, type PublishTarget } from "./target.ts";
import { listVersions } from "./versions.ts";

/** Default grace period of `gcIndex`: unreferenced objects younger than this are kept. */
export const GC_GRACE_MS = 60 * 60 * 1000;

export interface GcPlan {
  /** Versions kept: the `keep` newest (manifest createdAt) plus the current one. */
  kept: string[];
  /** Manifest keys and object keys that no kept version references. */
  manifests: string[];
  objects: string[];
  /** Unreferenced objects written less than the grace period ago (or of unknown age): kept, as they may belong
   *  to a publish still uploading (objects go up before their manifest). */
  young: string[];
  /** Bytes the deleted objects take, when the target reports sizes (HEAD). */
  bytes: number;
}

/**
 * Plans (and with `apply`, performs) the garbage collection of an index: manifests older than the `keep` newest
 * versions, except the current one, then objects that no kept manifest lists. A kept manifest that cannot be read
 * or parsed stops it (what it references is unknown). Manifests are deleted before objects, so no listed version
 * ever points at a missing object. Before deleting objects it re-reads the pointer and the version list and keeps
 * whatever appeared meanwhile. An upload in flight (objects without a manifest yet) is protected by the grace
 * period: unreferenced objects younger than `graceMs` (default one hour) are kept, like git's prune expiry; a publish
 * that reuses an old unreferenced object re-checks that its objects exist right before it writes its manifest
 * (`publishIndex`), so the window left is that last check to the manifest write.
 *
 * @example
 * const plan = await gcIndex(target, "demo", "scifact", { keep: 3 });           // dry run
 * await gcIndex(target, "demo", "scifact", { keep: 3, apply: true });           // deletes
 */
export async function gcIndex(
  target: PublishTarget,
  tenant: string,
  index: string,
  opts: { keep: number; apply?: boolean; graceMs?: number; now?: () => Date; log?: (line: string) => void },
): Promise<GcPlan> {
  if (!Number.isInteger(opts.keep) || opts.keep < 1) throw new PublishError("config", `--keep must be an integer >= 1, got ${opts.keep}`);
  const graceMs = opts.graceMs ?? GC_GRACE_MS;
  if (!(graceMs >= 0)) throw new PublishError("config", `the grace period must be >= 0 ms, got ${graceMs}`);
  const prefix = indexPrefix(tenant, index);
  const log = opts.log ?? (() => {});

  const plan = async (): Promise<{ kept: Set<string>; manifests: string[]; referenced: Set<string> }> => {
    const versions = await listVersions(target, tenant, index);
    const kept = new Set(versions.slice(0, opts.keep).map((v) => v.version));
    const current = (await readPointer(target, tenant, index))?.pointer?.version;
    if (current) kept.add(current);
    const referenced = new Set<string>();
    for (const v of versions.filter((x) => kept.has(x.version))) {
      const got = await target.get(v.manifestKey);
      let paths: string[];
      try {
        if (!got) throw new Error("missing");
        paths = (JSON.parse(new TextDecoder().decode(got.bytes)).objects as Array<{ path: string }>).map((o) => o.path);
        if (!paths.every((p) => typeof p === "string")) throw new Error("objects[].path is not a list of strings");
      } catch (e) {
        throw new PublishError("invalid_build", `kept manifest ${v.manifestKey} is unreadable (${(e as Error).message}): refusing to collect garbage`);
      }
      for (const p of paths) referenced.add(prefix + p);
    }
    return { kept, manifests: versions.filter((v) => !kept.has(v.version)).map((v) => v.manifestKey), referenced };
  };

  const first = await plan();
  const objects: string[] = [];
  const young: string[] = [];
  const cutoff = (opts.now?.() ?? new Date()).getTime() - graceMs;
  let bytes = 0;
  for await (const key of target.list(`${prefix}objects/`)) {
    if (!OBJECT_PATH_PATTERN.test(key.slice(prefix.length)) || first.referenced.has(key)) continue;
    const head = await target.head(key);
    if (!head) continue; // deleted meanwhile
    if (!head.uploaded || head.uploaded.getTime() > cutoff) {
      young.push(key);
      continue;
    }
    objects.push(key);
    bytes += head.size;
  }
  const result: GcPlan = { kept: [...first.kept], manifests: first.manifests, objects, young, bytes };
  if (!opts.apply) return result;

  for (const key of first.manifests) {
    await target.delete(key);
    log(`deleted ${key}`);
  }
  // A publish or rollback may have landed meanwhile: keep what it references.
  const again = await plan();
  result.objects = objects.filter((k) => !again.referenced.has(k));
  for (const key of result.objects) {
    await target.delete(key);
    log(`deleted ${key}`);
  }
  return result;
}
