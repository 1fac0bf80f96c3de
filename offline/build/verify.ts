// Verification of a build directory: the manifest parses with the format's parser, and every object it lists is
// on disk with its size and sha256; shard and doc block headers agree with the manifest.
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  decodeLexicalBucket, decodeLexicalNorms, decodeShard, parseManifest, readDocBlockHeader, type Manifest,
} from "../../src/format/index.ts";
import { BuildError } from "./errors.ts";
import { readObject } from "./store.ts";

export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(path.join(dir, "manifest.json"), "utf8");
  } catch {
    throw new BuildError("invalid_build", `build ${dir}: no manifest.json (is this a build directory?)`);
  }
  try {
    return parseManifest(JSON.parse(text));
  } catch (e) {
    throw new BuildError("invalid_build", `build ${dir}: invalid manifest.json: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Checks a whole build directory (reads every object once). Returns the manifest and the total object bytes.
 *
 * @example
 * const { manifest } = await verifyBuild("out/scifact");
 */
export async function verifyBuild(dir: string): Promise<{ manifest: Manifest; bytes: number }> {
  const manifest = await readManifest(dir);
  const fail = (msg: string) => new BuildError("invalid_build", `build ${dir}: ${msg}`);
  const shardPaths = new Set(manifest.partitions.flatMap((p) => p.shards.map((s) => s.path)));
  const blockPaths = new Set(manifest.docs.blocks.map((b) => b.path));
  const bucketIds = new Map((manifest.lexical?.buckets ?? []).map((b, i) => [b.path, i]));
  const normsPath = manifest.lexical?.norms.path;
  let bytes = 0;
  for (const o of manifest.objects) {
    const b = await readObject(dir, o);
    bytes += b.byteLength;
    try {
      if (shardPaths.has(o.path)) {
        const { header } = decodeShard(b);
        if (header.count !== o.count || header.dims !== manifest.vectors.dim) {
          throw fail(`shard ${o.path}: header says ${header.count} x ${header.dims}, manifest ${o.count} x ${manifest.vectors.dim}`);
        }
      } else if (blockPaths.has(o.path)) {
        const h = readDocBlockHeader(b);
        if (h.count !== o.count) throw fail(`doc block ${o.path}: header says ${h.count} docs, manifest ${o.count}`);
      } else if (bucketIds.has(o.path)) {
        const lb = decodeLexicalBucket(b);
        if (lb.id !== bucketIds.get(o.path) || lb.buckets !== bucketIds.size || lb.terms.size !== o.count) {
          throw fail(`lexical bucket ${o.path}: header says bucket ${lb.id} of ${lb.buckets} with ${lb.terms.size} terms, manifest ${bucketIds.get(o.path)} of ${bucketIds.size} with ${o.count}`);
        }
      } else if (o.path === normsPath && decodeLexicalNorms(b).length !== o.count) {
        throw fail(`lexical norms ${o.path}: length differs from manifest count ${o.count}`);
      }
    } catch (e) {
      if (e instanceof BuildError) throw e;
      throw fail(`object ${o.path}: ${(e as Error).message}`);
    }
  }
  return { manifest, bytes };
}
