import { indexPrefix, manifestKey, objectKey, pointerKey } from "../../src/format/r2-keys.ts";
import { readLineage } from "../build/build-info.ts";
import { isFormatError } from "../../src/format/errors.ts";
import { INDEX_LIMITS } from "../../src/format/limits.ts";
import type { ObjectRef } from "../../src/format/objects.ts";
import { openBuildDir, type BuildDir } from "../build/build-dir.ts";
import { BuildError } from "../build/errors.ts";
import { forEachLimit } from "../pool.ts";
import { readPointer, writePointer, type PointerState } from "./pointer.ts";
import { PublishError, type PublishTarget } from "./target.ts";

export interface PublishOptions {
  /** A build directory, or one `loadBuild` already opened and verified (it is not hashed again). */
  buildDir: string | BuildDir;
  tenant: string;
  index: string;
  target: PublishTarget;
  /** Progress lines; silent when absent. */
  log?: (line: string) => void;
  /** Uploads in flight at once (default 4). */
  concurrency?: number;
  /** Clock for `publishedAt` (tests). */
  now?: () => Date;
  /**
   * The version the pointer must still name (null: no pointer), e.g. the one a quality gate compared against;
   * anything else is `PublishError("conflict")` before any upload.
   */
  expectPrevious?: string | null;
}

export interface PublishResult {
  version: string;
  manifestKey: string;
  pointerKey: string;
  /** The version the pointer named before, null on a first publish. */
  previousVersion: string | null;
  /** Objects written this time, and their total size. */
  uploaded: number;
  uploadedBytes: number;
  /** Objects already present (content-addressed, so present means done). */
  skipped: number;
  /** False when the pointer already named this version. */
  pointerMoved: boolean;
}

/**
 * Opens a build directory and verifies every object (size and sha256, each hashed once); a bad build is
 * `PublishError("invalid_build")` naming every bad object.
 *
 * @example
 * const build = await loadBuild("out/scifact"); // build.version: "3f2a..."
 */
export async function loadBuild(dir: string): Promise<BuildDir> {
  try {
    const build = await openBuildDir(dir);
    await build.verify();
    return build;
  } catch (e) {
    if (e instanceof BuildError) throw new PublishError("invalid_build", `${e.message}\nnothing was uploaded`, { cause: e });
    throw e;
  }
}

/**
 * Publishes a build directory: verifies it (nothing is uploaded from a bad build), uploads the objects that are not
 * there yet, then `manifests/<version>.json`, then moves the `current` pointer with a conditional write against
 * the pointer read at the start. Never deletes. Rerunning after an interruption skips what is already uploaded.
 *
 * @example
 * const r = await publishIndex({ buildDir: "out/scifact", tenant: "demo", index: "scifact", target });
 * // { version: "3f2a9c...", uploaded: 12, skipped: 0, pointerMoved: true, ... }
 */
export async function publishIndex(opts: PublishOptions): Promise<PublishResult> {
  const { tenant, index, target } = opts;
  const log = opts.log ?? (() => {});
  checkNames(tenant, index);
  const build = typeof opts.buildDir === "string" ? await loadBuild(opts.buildDir) : opts.buildDir;
  checkManifestSize(build);
  log(`build ${build.dir}: version ${build.version}, ${build.objects.length} objects, ${build.bytes} bytes`);

  const start = await readPointer(target, tenant, index);
  const previousVersion = checkStart(start, opts, log);
  // A build made from another version (`i3 build --base`, `i3 compact`: build-info.json `lineage`) goes only over a
  // version it descends from (or none, or itself): over any other, publishing would drop that version's changes.
  checkLineage(previousVersion, build.version, await readLineage(build.dir), opts);
  const up = await uploadObjects(build, opts, log);
  log(`objects: ${up.uploaded} uploaded (${up.uploadedBytes} bytes), ${up.reused.length} already present`);
  await checkStillThere(up.reused, opts);

  const mKey = manifestKey(tenant, index, build.version);
  const mHead = await target.head(mKey);
  if (mHead && mHead.size === build.manifestBytes.byteLength) {
    log(`manifest ${mKey} already present`);
  } else {
    await target.put(mKey, build.manifestBytes, { contentType: "application/json", sha256: build.sha256 });
    log(`manifest ${mKey} written`);
  }

  const pKey = pointerKey(tenant, index);
  if (previousVersion === build.version) {
    log(`pointer ${pKey} already names ${build.version}: not moved`);
  } else {
    const publishedAt = (opts.now?.() ?? new Date()).toISOString();
    await writePointer(target, tenant, index, { version: build.version, manifest: mKey, publishedAt, sha256: build.sha256 }, start);
    log(`pointer ${pKey}: ${previousVersion ?? "(none)"} -> ${build.version}`);
  }
  return {
    version: build.version, manifestKey: mKey, pointerKey: pKey, previousVersion,
    uploaded: up.uploaded, uploadedBytes: up.uploadedBytes, skipped: up.reused.length,
    pointerMoved: previousVersion !== build.version,
  };
}

/** A manifest over the index limit is refused before any upload (its objects, sizes and total: parseManifest). */
function checkManifestSize(build: BuildDir): void {
  const bytes = build.manifestBytes.byteLength;
  if (bytes > INDEX_LIMITS.maxManifestBytes) {
    throw new PublishError("invalid_build", `${build.dir}: manifest.json has ${bytes} bytes, over the limit of ${INDEX_LIMITS.maxManifestBytes}\nnothing was uploaded`);
  }
}

function checkNames(tenant: string, index: string): void {
  try {
    indexPrefix(tenant, index);
  } catch (e) {
    if (isFormatError(e)) throw new PublishError("invalid_name", e.message, { cause: e });
    throw e;
  }
}

/** An update goes only over a version it was made from: any other live version has changes it would drop. */
function checkLineage(previous: string | null, version: string, lineage: string[] | undefined, opts: PublishOptions): void {
  if (!lineage?.length || previous === null || previous === version || lineage.includes(previous)) return;
  throw new PublishError(
    "conflict",
    `the pointer of ${opts.tenant}/${opts.index} names ${previous}, which this build does not descend from (it was made from ${lineage.at(-1)}): ` +
      `publishing it would drop the changes of ${previous}. Pull the live version and update it again (i3 pull, i3 build --base); nothing was uploaded`,
  );
}

/** The version the pointer names at the start; `conflict` when it is not the one the caller expects. */
function checkStart(start: PointerState | null, opts: PublishOptions, log: (line: string) => void): string | null {
  if (start?.invalid) log(`warning: ${start.key} is not a valid pointer (${start.invalid}); it will be replaced`);
  const previousVersion = start?.pointer?.version ?? null;
  if (opts.expectPrevious !== undefined && opts.expectPrevious !== previousVersion) {
    throw new PublishError(
      "conflict",
      `the pointer of ${opts.tenant}/${opts.index} names ${previousVersion ?? "nothing"}, not ${opts.expectPrevious ?? "nothing"} as expected (another publish or rollback ran); nothing was uploaded`,
    );
  }
  return previousVersion;
}

/**
 * Uploads the objects not already there (HEAD first). Each goes with its verified sha256, which the store checks:
 * a file changed since verification is refused there, without hashing it again here.
 */
async function uploadObjects(build: BuildDir, opts: PublishOptions, log: (line: string) => void) {
  const { tenant, index, target } = opts;
  let uploaded = 0;
  let uploadedBytes = 0;
  const reused: ObjectRef[] = [];
  await forEachLimit(build.objects, opts.concurrency ?? 4, async (o) => {
    const key = objectKey(tenant, index, o.path);
    const head = await target.head(key);
    if (head && head.size === o.bytes) {
      reused.push(o);
      return;
    }
    if (head) log(`warning: ${key} has ${head.size} bytes, expected ${o.bytes}: uploading it again`);
    await target.put(key, await readVerified(build, o), { contentType: contentTypeOf(o.path), sha256: o.sha256 });
    uploaded++;
    uploadedBytes += o.bytes;
  });
  return { uploaded, uploadedBytes, reused };
}

/**
 * A reused object may be an old unreferenced one that a concurrent gc deletes (what this run uploaded is younger
 * than gc's grace period): check them right before the manifest names them, so that a published version never
 * points at a missing object.
 */
async function checkStillThere(reused: ObjectRef[], opts: PublishOptions): Promise<void> {
  const missing: string[] = [];
  await forEachLimit(reused, opts.concurrency ?? 4, async (o) => {
    const key = objectKey(opts.tenant, opts.index, o.path);
    if ((await opts.target.head(key))?.size !== o.bytes) missing.push(key);
  });
  if (missing.length > 0) {
    throw new PublishError("conflict", `${missing.length} object(s) disappeared during the upload (a concurrent gc?), e.g. ${missing[0]}: nothing was published; run publish again`);
  }
}

async function readVerified(build: BuildDir, o: ObjectRef): Promise<Uint8Array> {
  try {
    return await build.readObject(o);
  } catch (e) {
    if (e instanceof BuildError) throw new PublishError("invalid_build", `${e.message} (changed after it was verified)`, { cause: e });
    throw e;
  }
}

function contentTypeOf(path: string): string {
  return path.endsWith(".json") ? "application/json" : "application/octet-stream";
}
