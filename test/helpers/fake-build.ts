// A small valid build directory (its manifest passes parseManifest); random bytes make every call a new version.
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256Hex } from "../../src/format/checksum.ts";
import { FORMAT_NAME, MANIFEST_VERSION, serializeManifest, type Manifest } from "../../src/format/manifest.ts";
import { createObjectRef, type ObjectKind } from "../../src/format/objects.ts";

export interface FakeBuild {
  dir: string;
  version: string;
  /** object paths (objects/<sha256>.<ext>) */
  paths: string[];
  manifestBytes: Uint8Array;
  /** object path -> bytes */
  files: Map<string, Uint8Array>;
}

/** Writes a fake build into `dir`; `shared` object bytes (e.g. the same vocab) make versions share objects. */
export async function writeFakeBuild(
  dir: string,
  opts: { createdAt?: string; sharedVocab?: Uint8Array; id?: string } = {},
): Promise<FakeBuild> {
  const files = new Map<string, Uint8Array>();
  const add = async (kind: ObjectKind, bytes: Uint8Array, count?: number) => {
    const ref = await createObjectRef(kind, bytes, count === undefined ? {} : { count });
    files.set(ref.path, new Uint8Array(bytes));
    return ref;
  };
  const query = await add("model", randomBytes(300));
  const vocab = await add("vocab", opts.sharedVocab ?? new TextEncoder().encode(JSON.stringify([["<unk>", 0], [randomBytes(4).toString("hex"), -1]])));
  const shard = await add("shard", randomBytes(1000), 3);
  const docs = await add("docs", randomBytes(500), 2);
  const manifest: Manifest = {
    format: FORMAT_NAME,
    version: { ...MANIFEST_VERSION },
    id: opts.id ?? "fake",
    createdAt: opts.createdAt ?? new Date().toISOString(),
    corpus: { documents: 2, passages: 3, avgTokens: 12 },
    vectors: { dim: 8, quantization: "int8", binary: true, metric: "ip", normalized: true },
    model: { name: "use-lite-test", maxQueryTokens: 64, query, vocab, tokenizerHash: vocab.sha256 },
    passages: { window: 64, stride: 32, docScore: "max" },
    partitions: [{ id: 0, centroid: null, shards: [shard] }],
    docs: { blocks: [{ ...docs, count: 2, first: 0 }] },
    search: { k: 10, rescore: 100 },
    objects: [query, vocab, shard, docs],
  };
  const manifestBytes = new TextEncoder().encode(serializeManifest(manifest));
  await mkdir(path.join(dir, "objects"), { recursive: true });
  await writeFile(path.join(dir, "manifest.json"), manifestBytes);
  for (const [p, bytes] of files) await writeFile(path.join(dir, p), bytes);
  return { dir, version: (await sha256Hex(manifestBytes)).slice(0, 16), paths: [...files.keys()], manifestBytes, files };
}
