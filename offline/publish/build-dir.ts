import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { sha256Hex } from "../../src/format/checksum.ts";
import { versionIdOf } from "../../src/format/r2-keys.ts";
import { parseManifest, type Manifest } from "../../src/format/manifest.ts";
import type { ObjectRef } from "../../src/format/objects.ts";
import { forEachLimit } from "./pool.ts";
import { PublishError } from "./target.ts";

/** A build directory that passed `loadBuild`: every listed object is on disk with its size and sha256. */
export interface VerifiedBuild {
  dir: string;
  manifestBytes: Uint8Array;
  /** SHA-256 of `manifest.json`; the version id is its first 16 hex characters. */
  sha256: string;
  version: string;
  /** `manifest.objects`, each path once. */
  objects: ObjectRef[];
  /** Sum of the objects' sizes. */
  bytes: number;
  /** `manifest.createdAt`. */
  createdAt: string;
}

/**
 * Reads `<dir>/manifest.json`, parses it with the format's `parseManifest`, and checks every object of
 * `manifest.objects` on disk: present, the listed size, the listed sha256 (the one in its path too).
 * Any problem is a `PublishError("invalid_build")` naming the object; all problems are reported at once.
 *
 * @example
 * const build = await loadBuild("out/scifact"); // { version: "3f2a...", objects: [...] }
 */
export async function loadBuild(dir: string, opts: { concurrency?: number } = {}): Promise<VerifiedBuild> {
  const manifestPath = path.join(dir, "manifest.json");
  let manifestBytes: Uint8Array;
  try {
    manifestBytes = new Uint8Array(await readFile(manifestPath));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : String(e);
    throw new PublishError("invalid_build", `build ${dir}: manifest.json ${why} (is this a build directory?)`, { cause: e });
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(JSON.parse(new TextDecoder().decode(manifestBytes)));
  } catch (e) {
    throw new PublishError("invalid_build", `build ${dir}: invalid manifest.json: ${(e as Error).message}`, { cause: e });
  }

  const byPath = new Map<string, ObjectRef>();
  for (const o of manifest.objects) if (!byPath.has(o.path)) byPath.set(o.path, o);
  const objects = [...byPath.values()];

  const problems: string[] = [];
  await forEachLimit(objects, opts.concurrency ?? 4, async (o) => {
    const problem = await checkObject(dir, o);
    if (problem) problems.push(`${o.path}: ${problem}`);
  });
  if (problems.length > 0) {
    problems.sort();
    const shown = problems.slice(0, 10).join("\n  ");
    const more = problems.length > 10 ? `\n  ... and ${problems.length - 10} more` : "";
    throw new PublishError("invalid_build", `build ${dir}: ${problems.length} bad object(s), nothing uploaded:\n  ${shown}${more}`);
  }

  const sha256 = await sha256Hex(manifestBytes);
  return {
    dir,
    manifestBytes,
    sha256,
    version: versionIdOf(sha256),
    objects,
    bytes: objects.reduce((n, o) => n + o.bytes, 0),
    createdAt: manifest.createdAt,
  };
}

/** Reads an object of a verified build, checking it again (the directory may have changed since `loadBuild`). */
export async function readBuildObject(build: VerifiedBuild, o: ObjectRef): Promise<Uint8Array> {
  const bytes = new Uint8Array(await readFile(path.join(build.dir, o.path)));
  const sha = await sha256Hex(bytes);
  if (bytes.byteLength !== o.bytes || sha !== o.sha256) {
    throw new PublishError("invalid_build", `build ${build.dir}: ${o.path} changed after it was verified (expected ${o.bytes} bytes sha256 ${o.sha256}, got ${bytes.byteLength} bytes sha256 ${sha})`);
  }
  return bytes;
}

async function checkObject(dir: string, o: ObjectRef): Promise<string | undefined> {
  const named = /^objects\/([0-9a-f]{64})\./.exec(o.path)?.[1];
  if (named !== o.sha256) return `path names sha256 ${named ?? "(none)"} but the manifest lists ${o.sha256}`;
  const file = path.join(dir, o.path);
  try {
    const s = await stat(file);
    if (!s.isFile()) return "not a file";
    if (s.size !== o.bytes) return `expected ${o.bytes} bytes, found ${s.size}`;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : String(e);
  }
  const actual = await hashFile(file);
  if (actual !== o.sha256) return `expected sha256 ${o.sha256}, got ${actual}`;
  return undefined;
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => h.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}
