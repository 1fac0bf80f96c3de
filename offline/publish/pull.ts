// `i3 pull`: a published version back into a build directory (manifest.json, every object checked against its
// sha256, and a build-info.json made from the manifest), so that CI, which keeps no build directories, can update the
// live version incrementally (`i3 build --base <pulled dir> --upsert ...`) and publish only what changed.
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256Hex } from "../../src/format/checksum.ts";
import { manifestKey, objectKey, validateVersion } from "../../src/format/r2-keys.ts";
import { DOCS_PER_BLOCK, type Manifest } from "../../src/format/index.ts";
import { MANIFEST_FILE, parseManifestBytes } from "../build/build-dir.ts";
import { BUILD_DEFAULTS, BUILD_INFO_FILE, type BuildInfo } from "../build/build-info.ts";
import { exists } from "../build/finalize.ts";
import { forEachLimit } from "../pool.ts";
import { readPointer } from "./pointer.ts";
import { PublishError, type PublishTarget } from "./target.ts";

export interface PullOptions {
  target: PublishTarget;
  tenant: string;
  index: string;
  /** A published version (default: the one the pointer names). */
  version?: string;
  out: string;
  force?: boolean;
  concurrency?: number;
  log?: (line: string) => void;
}

export interface PullResult {
  version: string;
  objects: number;
  bytes: number;
}

/**
 * Downloads a version into `out` (via `<out>.partial`, renamed when every object is in and checked).
 *
 * @example
 * await pullIndex({ target, tenant: "demo", index: "scifact", out: "build/live" });
 */
export async function pullIndex(o: PullOptions): Promise<PullResult> {
  const log = o.log ?? (() => {});
  if (!o.force && (await exists(o.out))) throw new PublishError("conflict", `${o.out} already exists (pass --force to replace it)`);
  const version = o.version ?? (await currentVersion(o));
  validateVersion(version);
  const key = manifestKey(o.tenant, o.index, version);
  const got = await o.target.get(key);
  if (!got) throw new PublishError("not_found", `${key} does not exist: ${o.tenant}/${o.index} has no version ${version}`);
  if ((await sha256Hex(got.bytes)).slice(0, 16) !== version) throw new PublishError("invalid_build", `${key}: its sha256 does not start with its version ${version}`);
  const manifest = parseManifestBytes(got.bytes, key);
  const partial = `${o.out}.partial`;
  await rm(partial, { recursive: true, force: true });
  const refs = [...new Map(manifest.objects.map((r) => [r.path, r])).values()];
  try {
    await mkdir(path.join(partial, "objects"), { recursive: true });
    await forEachLimit(refs, o.concurrency ?? 8, async (r) => {
      const k = objectKey(o.tenant, o.index, r.path);
      const obj = await o.target.get(k);
      if (!obj) throw new PublishError("not_found", `${k} is missing: version ${version} is incomplete`);
      if (obj.bytes.byteLength !== r.bytes || (await sha256Hex(obj.bytes)) !== r.sha256) {
        throw new PublishError("invalid_build", `${k}: not the bytes the manifest names (size or sha256)`);
      }
      await writeFile(path.join(partial, r.path), obj.bytes);
    });
    await writeFile(path.join(partial, MANIFEST_FILE), got.bytes);
    await writeFile(path.join(partial, BUILD_INFO_FILE), JSON.stringify(pulledInfo(manifest, o, version), null, 2) + "\n");
    await rm(o.out, { recursive: true, force: true });
    await rename(partial, o.out);
  } catch (e) {
    await rm(partial, { recursive: true, force: true }); // nothing half-downloaded is left
    throw e;
  }
  if (manifest.passages.split === undefined && manifest.corpus.passages === manifest.corpus.documents) {
    // Before the manifest recorded `split: false`, one passage per document did not say whether the build split.
    log(`pull: warning: ${o.tenant}/${o.index} has one passage per document and does not say whether it was built with --no-split; an update will split long documents into windows`);
  }
  const bytes = refs.reduce((n, r) => n + r.bytes, 0);
  log(`pull: ${o.tenant}/${o.index} version ${version}: ${refs.length} objects (${bytes} bytes) into ${o.out}`);
  return { version, objects: refs.length, bytes };
}

async function currentVersion(o: PullOptions): Promise<string> {
  const state = await readPointer(o.target, o.tenant, o.index);
  if (!state) throw new PublishError("not_found", `${o.tenant}/${o.index} was never published (no pointer)`);
  if (!state.pointer) throw new PublishError("invalid_build", `${state.key} is not a valid pointer: ${state.invalid}`);
  return state.pointer.version;
}

/**
 * What an update needs to know of how the version was built, from its manifest: the passage window, stride and
 * splitting, the model (its query model and vocab; the passage model's hash is not published, so an update checks
 * those two), and the writers' default object sizes.
 */
function pulledInfo(m: Manifest, o: PullOptions, version: string): BuildInfo & { pulled: { tenant: string; index: string; version: string } } {
  return {
    fingerprint: {
      corpus: { path: "", bytes: 0, mtimeMs: 0 },
      model: { name: m.model.name, passage: "", query: m.model.query.sha256, vocab: m.model.vocab.sha256 },
      window: m.passages.window, stride: m.passages.stride, split: m.passages.split !== false,
      shardSize: BUILD_DEFAULTS.shardSize, batch: BUILD_DEFAULTS.batch, sortBuffer: BUILD_DEFAULTS.batch * BUILD_DEFAULTS.sortBatches,
      docsPerBlock: DOCS_PER_BLOCK, limit: null, slice: null,
    },
    slice: null, firstDoc: 0, corpusDocuments: m.corpus.documents, tokens: Math.round(m.corpus.avgTokens * m.corpus.documents),
    pulled: { tenant: o.tenant, index: o.index, version },
  };
}
