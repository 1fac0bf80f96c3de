// A build directory: `manifest.json` + `objects/<sha256>.<ext>` (+ `build-info.json`), what `i3 build` and
// `i3 merge` write and `i3 publish`, `i3 defaults`, `i3 merge` and `i3 eval --index` read. The one reader (and
// writer) of manifest.json, on top of the format's checks (parseManifest); objects go through one ObjectStore, so a
// process hashes each object once. Every problem is a BuildError("invalid_build") naming the file.
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256Hex } from "../../src/format/checksum.ts";
import { parseManifest, serializeManifest, type Manifest } from "../../src/format/manifest.ts";
import type { ObjectRef } from "../../src/format/objects.ts";
import { versionIdOf } from "../../src/format/r2-keys.ts";
import { forEachLimit } from "../pool.ts";
import { BUILD_INFO_FILE, lineageIn, readInfoJson } from "./build-info.ts";
import { BuildError } from "./errors.ts";
import { createObjectStore, type ObjectStore } from "./object-store.ts";

export const MANIFEST_FILE = "manifest.json";

/** An opened build directory: its manifest, parsed, and its objects, read through one store. */
export interface BuildDir {
  readonly dir: string;
  readonly manifest: Manifest;
  /** `manifest.json` as on disk: what is published, and what the version id is computed from. */
  readonly manifestBytes: Uint8Array;
  /** SHA-256 of `manifest.json`; the version id is its first 16 hex characters. */
  readonly sha256: string;
  readonly version: string;
  /** `manifest.objects`, each path once. */
  readonly objects: ObjectRef[];
  /** Sum of the objects' sizes. */
  readonly bytes: number;
  /** Reads an object, checked against its reference (size always, sha256 once per opened directory). */
  readObject(ref: ObjectRef): Promise<Uint8Array>;
  /** The file of an object, for readers that open it themselves (onnxruntime and the query model). */
  objectFile(ref: ObjectRef): string;
  /**
   * Checks every object on disk: named by its sha256, present, the listed size and sha256 (each hashed at most
   * once). All problems are reported at once, in one BuildError("invalid_build").
   */
  verify(opts?: { concurrency?: number }): Promise<void>;
}

/**
 * Opens a build directory: reads and parses `manifest.json` (objects are read on demand). `store`: the store the
 * objects were just written through (a build finalizing its directory), so they are not hashed again.
 *
 * @example
 * const build = await openBuildDir("out/scifact");
 * const vocab = await build.readObject(build.manifest.model.vocab);
 */
export async function openBuildDir(dir: string, opts: { store?: ObjectStore } = {}): Promise<BuildDir> {
  const { manifest, bytes: manifestBytes } = await readManifest(dir);
  const store = opts.store ?? createObjectStore(dir);
  const byPath = new Map<string, ObjectRef>();
  for (const o of manifest.objects) if (!byPath.has(o.path)) byPath.set(o.path, o);
  const objects = [...byPath.values()];
  const sha256 = await sha256Hex(manifestBytes);
  return {
    dir,
    manifest,
    manifestBytes,
    sha256,
    version: versionIdOf(sha256),
    objects,
    bytes: objects.reduce((n, o) => n + o.bytes, 0),
    readObject: (ref) => store.read(ref),
    objectFile: (ref) => store.file(ref),
    verify: (o = {}) => verifyObjects(dir, objects, store, o.concurrency ?? 4),
  };
}

/**
 * Reads `<dir>/manifest.json` and parses it with the format's parser. A missing or invalid file is a
 * BuildError("invalid_build") that names it.
 *
 * @example
 * const { manifest } = await readManifest("out/scifact");
 */
export async function readManifest(dir: string): Promise<{ manifest: Manifest; bytes: Uint8Array }> {
  const file = path.join(dir, MANIFEST_FILE);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "not found (is this a build directory?)" : String(e);
    throw new BuildError("invalid_build", `${file}: ${why}`, { cause: e });
  }
  return { manifest: parseManifestBytes(bytes, file), bytes };
}

/** Parses manifest bytes (from a file or a bucket); `source` names them in the error. */
export function parseManifestBytes(bytes: Uint8Array, source: string): Manifest {
  try {
    return parseManifest(JSON.parse(new TextDecoder().decode(bytes)));
  } catch (e) {
    throw new BuildError("invalid_build", `${source}: invalid manifest: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Writes `<dir>/manifest.json` atomically (temp file, then rename). Rewriting the manifest of a build made from
 * another version (`i3 defaults` after `i3 build --base`) makes a new version of it: the one it replaces joins the
 * lineage in build-info.json first, so `i3 publish` still puts it over the version it was published as.
 */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  const file = path.join(dir, MANIFEST_FILE);
  await extendLineage(dir, file);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, serializeManifest(manifest));
  await rename(tmp, file);
}

/** Adds the version of the manifest about to be replaced to the directory's lineage (when it records one). */
async function extendLineage(dir: string, file: string): Promise<void> {
  const info = await readInfoJson(dir);
  const lineage = lineageIn(info);
  if (!lineage) return;
  const old = await readFile(file).catch(() => undefined);
  if (!old) return;
  const version = versionIdOf(await sha256Hex(old));
  if (lineage.includes(version)) return;
  const infoFile = path.join(dir, BUILD_INFO_FILE);
  await writeFile(`${infoFile}.tmp-${process.pid}`, JSON.stringify({ ...info, lineage: [...lineage, version] }, null, 2) + "\n");
  await rename(`${infoFile}.tmp-${process.pid}`, infoFile);
}

async function verifyObjects(dir: string, objects: ObjectRef[], store: ObjectStore, concurrency: number): Promise<void> {
  const problems: string[] = [];
  await forEachLimit(objects, concurrency, async (o) => {
    const problem = await store.check(o);
    if (problem) problems.push(`${o.path}: ${problem}`);
  });
  if (problems.length === 0) return;
  problems.sort();
  const shown = problems.slice(0, 10).join("\n  ");
  const more = problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : "";
  throw new BuildError("invalid_build", `build ${dir}: ${problems.length} bad object(s):\n  ${shown}${more}`);
}
