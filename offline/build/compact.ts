// `i3 compact --base <dir> --out <dir>`: folds an updated version's delta and tombstones into a new base. It is a
// fresh build of the version's live documents (the base's, less the tombstoned, then the delta's, in that order) with
// the base's model and parameters, so it equals `i3 build` of the same corpus: BM25 statistics exact again, the
// delta's passages partitioned with the rest.
import { createWriteStream } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { once } from "node:events";
import { decodeDocBlock, decodeTombstones, isDeleted, type Doc } from "../../src/format/index.ts";
import { UsageError } from "../command.ts";
import { openBuildDir, type BuildDir } from "./build-dir.ts";
import { buildIndex, type BuildSummary } from "./build.ts";
import { BuildError } from "./errors.ts";
import { BUILD_INFO_FILE, exists, lineageOf, type BuildInfo } from "./finalize.ts";
import type { ProgressStream } from "./progress.ts";
import type { Device } from "../encoder/node-encoder.ts";
import type { EncoderBackend } from "../encoder/passage-encoder.ts";

/** What a command that encodes documents into a new build directory takes (compact, update). */
export interface EncodeIntoOptions {
  /** The model the base was built with. */
  model: string;
  out: string;
  force?: boolean;
  device?: Device;
  encoder?: EncoderBackend;
  threads?: number;
  stderr?: ProgressStream;
}

export interface CompactOptions extends EncodeIntoOptions {
  base: string;
}

/**
 * Builds the live documents of `base` into `out` as a new base (manifest 2.1, no delta).
 *
 * @example
 * await compactIndex({ base: "out/v7", model: "models/i3-scifact", out: "out/v8" });
 */
export async function compactIndex(o: CompactOptions): Promise<BuildSummary> {
  const out = o.out.replace(/\/+$/, "");
  if (path.resolve(out) === path.resolve(o.base)) throw new UsageError("--out must differ from --base");
  if (!o.force && (await exists(out))) throw new BuildError("output_exists", `${out} already exists (pass --force to replace it)`);
  const base = await openBuildDir(o.base);
  const m = base.manifest;
  const info = JSON.parse(await readFile(path.join(base.dir, BUILD_INFO_FILE), "utf8").catch((e: Error) => {
    throw new BuildError("invalid_build", `${path.join(base.dir, BUILD_INFO_FILE)}: ${e.message} (compaction needs the base's build parameters)`);
  })) as BuildInfo;
  const corpus = `${out}.compact.jsonl`;
  const documents = await writeLiveCorpus(base, corpus);
  (o.stderr ?? process.stderr).write(`compact: ${documents} live documents of ${o.base} into ${corpus}\n`);
  const f = info.fingerprint;
  const lex = m.lexical;
  try {
    const summary = await buildIndex({
      corpus, model: o.model, out, force: o.force, restart: true, device: o.device, encoder: o.encoder, threads: o.threads,
      window: f.window, stride: f.stride, split: f.split, batch: f.batch, shardSize: f.shardSize, docsPerBlock: f.docsPerBlock,
      sortBuffer: f.sortBuffer, id: m.id,
      lexical: !!lex,
      lexicalOptions: lex && { k1: lex.bm25.k1, b: lex.bm25.b, fusion: lex.fusion, defaultMode: lex.defaultMode },
      fields: m.fields?.schema,
      // A flat base stays flat; a partitioned one is partitioned again for its new size.
      partitioning: m.partitions.length === 1 ? { partitions: 1 } : {},
      stderr: o.stderr,
    });
    // A compacted build is published only over a version it descends from, as an update is.
    const infoFile = path.join(out, BUILD_INFO_FILE);
    const built = JSON.parse(await readFile(infoFile, "utf8")) as BuildInfo;
    await writeFile(infoFile, JSON.stringify({ ...built, lineage: lineageOf(base, info) }, null, 2) + "\n");
    return summary;
  } finally {
    await rm(corpus, { force: true });
  }
}

/** The version's live documents as a corpus file, in version order (what `i3 compact` builds); returns their number. */
export async function writeLiveCorpus(base: BuildDir, file: string): Promise<number> {
  const m = base.manifest;
  const tomb = m.tombstones && decodeTombstones(await base.readObject(m.tombstones));
  const stream = createWriteStream(file);
  let n = 0;
  const write = async (d: Doc) => {
    const line = JSON.stringify({ id: d.id, ...(d.title !== undefined ? { title: d.title } : {}), text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) });
    if (!stream.write(line + "\n")) await once(stream, "drain");
    n++;
  };
  for (const b of m.docs.blocks) {
    const docs = decodeDocBlock(await base.readObject(b));
    for (let i = 0; i < docs.length; i++) if (!tomb || !isDeleted(tomb, b.first + i)) await write(docs[i]);
  }
  for (const b of m.delta?.docs.blocks ?? []) for (const d of decodeDocBlock(await base.readObject(b))) await write(d);
  stream.end();
  await once(stream, "finish");
  return n;
}
