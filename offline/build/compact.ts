// `i3 compact --base <dir> --out <dir>`: folds an updated version's delta and tombstones into a new base. It is a
// fresh build of the version's live documents (the base's, less the tombstoned, then the delta's, in that order) with
// the base's model and parameters, so it equals `i3 build` of the same corpus: BM25 statistics exact again, the
// delta's passages partitioned with the rest.
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { once } from "node:events";
import { UsageError } from "../command.ts";
import { openBase } from "./base.ts";
import { openBuildDir, type BuildDir } from "./build-dir.ts";
import { lineageOf } from "./build-info.ts";
import { buildIndex, type BuildSummary } from "./build.ts";
import { BuildError } from "./errors.ts";
import { exists } from "./finalize.ts";
import { eachLiveDocument } from "./live-docs.ts";
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
  const { info, passage } = await openBase(base, o.model, "compaction");
  const m = base.manifest;
  const corpus = `${out}.compact.jsonl`;
  const f = info.fingerprint;
  const lex = m.lexical;
  try {
    const documents = await writeLiveCorpus(base, corpus);
    (o.stderr ?? process.stderr).write(`compact: ${documents} live documents of ${o.base} into ${corpus}\n`);
    return await buildIndex({
      corpus, model: o.model, out, force: o.force, restart: true, device: o.device, encoder: o.encoder, threads: o.threads, passage,
      window: f.window, stride: f.stride, split: f.split, batch: f.batch, shardSize: f.shardSize, docsPerBlock: f.docsPerBlock,
      sortBuffer: f.sortBuffer, id: m.id, skipEmpty: f.skipEmpty,
      lexical: !!lex,
      lexicalOptions: lex && { k1: lex.bm25.k1, b: lex.bm25.b, fusion: lex.fusion, defaultMode: lex.defaultMode },
      fields: m.fields?.schema,
      // A flat base stays flat; a partitioned one is partitioned again for its new size, to the base's recall target.
      partitioning: m.partitions.length === 1 ? { partitions: 1 } : { recallTarget: m.search.plan?.target },
      // Published only over a version it descends from, as an update is (written with the build, not after it).
      lineage: lineageOf(base, info),
      stderr: o.stderr,
    });
  } finally {
    await rm(corpus, { force: true });
  }
}

/** The version's live documents as a corpus file, in version order (what `i3 compact` builds); returns their number. */
export async function writeLiveCorpus(base: BuildDir, file: string): Promise<number> {
  const stream = createWriteStream(file);
  let n = 0;
  for await (const { doc: d } of eachLiveDocument(base)) {
    const line = JSON.stringify({ id: d.id, ...(d.title !== undefined ? { title: d.title } : {}), text: d.text, ...(d.metadata ? { metadata: d.metadata } : {}) });
    if (!stream.write(line + "\n")) await once(stream, "drain");
    n++;
  }
  stream.end();
  await once(stream, "finish");
  return n;
}
