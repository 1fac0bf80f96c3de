// The last step of build and merge: assemble the manifest, write it into the partial directory, verify the whole
// directory, drop everything the manifest does not list, and only then rename `<out>.partial` to `<out>`.
import { readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  FORMAT_NAME, MANIFEST_VERSION, parseManifest, serializeManifest, type DocBlockRef, type FieldsSection, type IdIndex, type LexicalSection, type Manifest, type ObjectRef, type Partition,
} from "../../src/format/index.ts";
import { MANIFEST_FILE, openBuildDir, writeManifest } from "./build-dir.ts";
import { BUILD_INFO_FILE, type BuildInfo } from "./build-info.ts";
import { BuildError } from "./errors.ts";
import { lexicalObjects } from "./bm25.ts";
import type { ObjectStore } from "./object-store.ts";
import { verifyBuild } from "./verify.ts";

export interface ManifestParts {
  id: string;
  documents: number;
  passages: number;
  tokens: number;
  dim: number;
  normalized: boolean;
  modelName: string;
  maxQueryTokens: number;
  query: ObjectRef;
  vocab: ObjectRef;
  /** The model's static query tier (manifest 2.1 `model.static`), and the encoder a search runs by default. */
  staticQuery?: ObjectRef;
  defaultEncoder?: "model" | "static";
  /** "optimized": the query model's graph was optimized at export (manifest `model.graph`). */
  queryGraph?: "optimized";
  window: number;
  stride: number;
  /** false: one passage per document (`--no-split`); default true. */
  split?: boolean;
  /** The vector partitions (a flat index: one, holding the doc-ordered shards). */
  partitions: Partition[];
  /** The centroids object of a partitioned index. */
  centroids?: ObjectRef;
  /** Search defaults of a partitioned index: probe, refine and the plan behind them. */
  search?: Pick<Manifest["search"], "probe" | "refine" | "scan" | "plan">;
  blocks: DocBlockRef[];
  /** The id index (documents by id; absent: the worker answers GET documents/:id with 501 not_supported). */
  ids?: IdIndex;
  /** The BM25 section (absent with --no-lexical). */
  lexical?: LexicalSection;
  /** Filterable fields (absent without --fields). */
  fields?: FieldsSection;
}

export function assembleManifest(p: ManifestParts): Manifest {
  const m: Manifest = {
    format: FORMAT_NAME,
    version: { major: MANIFEST_VERSION.major, minor: MANIFEST_VERSION.minor },
    id: p.id,
    createdAt: new Date().toISOString(),
    corpus: { documents: p.documents, passages: p.passages, avgTokens: p.documents ? Math.round((100 * p.tokens) / p.documents) / 100 : 0 },
    vectors: { dim: p.dim, quantization: "int8", binary: true, metric: "ip", normalized: p.normalized },
    model: {
      name: p.modelName, maxQueryTokens: p.maxQueryTokens, query: p.query, vocab: p.vocab, tokenizerHash: p.vocab.sha256,
      ...(p.staticQuery ? { static: p.staticQuery } : {}), ...(p.defaultEncoder ? { defaultEncoder: p.defaultEncoder } : {}),
      ...(p.queryGraph ? { graph: p.queryGraph } : {}),
    },
    passages: { window: p.window, stride: p.stride, ...(p.split === false ? { split: false as const } : {}), docScore: "max" },
    partitions: p.partitions,
    docs: p.ids ? { blocks: p.blocks, ids: p.ids } : { blocks: p.blocks },
    search: { k: 10, rescore: 1000, ...p.search },
    objects: [
      p.query, p.vocab, ...(p.staticQuery ? [p.staticQuery] : []),
      ...p.partitions.flatMap((x) => (x.refine ? [...x.shards, x.refine] : x.shards)),
      ...(p.centroids ? [p.centroids] : []),
      ...p.blocks, ...(p.ids?.buckets ?? []), ...(p.lexical ? lexicalObjects(p.lexical) : []),
      ...(p.fields ? [p.fields.columns, ...(p.fields.partitionDocs ? [p.fields.partitionDocs] : [])] : []),
    ],
  };
  if (p.fields) m.fields = p.fields;
  if (p.centroids) m.centroids = p.centroids;
  if (p.lexical) m.lexical = p.lexical;
  return parseManifest(JSON.parse(serializeManifest(m)));
}

/**
 * Writes manifest + build-info into the store's (partial) directory, verifies it (objects the store wrote are not
 * hashed again), drops what the manifest does not list and renames it to `out`. Returns the index bytes.
 */
export async function finalizeBuild(
  store: ObjectStore, out: string, manifest: Manifest, info: BuildInfo, force: boolean, opts: { trusted?: ReadonlySet<string> } = {},
): Promise<number> {
  const partial = store.dir;
  await writeManifest(partial, manifest);
  await writeFile(path.join(partial, BUILD_INFO_FILE), JSON.stringify(info, null, 2) + "\n");
  const build = await openBuildDir(partial, { store });
  await verifyBuild(build, opts);
  const keep = new Set(manifest.objects.map((o) => path.basename(o.path)));
  for (const f of await readdir(path.join(partial, "objects"))) if (!keep.has(f)) await rm(path.join(partial, "objects", f), { force: true });
  for (const f of await readdir(partial)) {
    if (f !== "objects" && f !== MANIFEST_FILE && f !== BUILD_INFO_FILE) await rm(path.join(partial, f), { recursive: true, force: true });
  }
  if (await exists(out)) {
    if (!force) throw new BuildError("output_exists", `${out} already exists (pass --force to replace it)`);
    await rm(out, { recursive: true, force: true });
  }
  await rename(partial, out);
  return build.bytes;
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(() => true, () => false);
}

/** `--id` default: the output directory's name, lower-cased, other characters as "-". */
export function defaultIndexId(out: string): string {
  const s = path.basename(path.resolve(out)).toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^[^a-z0-9]+/, "");
  return s.slice(0, 63) || "index";
}
