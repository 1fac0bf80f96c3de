// The resume state of a build, kept in `<out>.partial/checkpoint.json` and rewritten (atomically) after every
// finished shard and doc block. A rerun with the same fingerprint keeps the finished objects and continues from
// `resume`; any other fingerprint refuses to resume (unless --restart).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ObjectRef } from "../../src/format/index.ts";
import type { ShardDone } from "./writers.ts";

/** Everything that changes the bytes of the index: a resume (or a merge) needs all of it equal. */
export interface Fingerprint {
  corpus: { path: string; bytes: number; mtimeMs: number };
  model: { name: string; passage: string; query: string; vocab: string };
  window: number;
  stride: number;
  split: boolean;
  shardSize: number;
  batch: number;
  sortBuffer: number;
  docsPerBlock: number;
  limit: number | null;
  slice: string | null;
  /** Present (true) only for `--skip-empty` builds, so other fingerprints are unchanged. */
  skipEmpty?: true;
}

/** Where a resumed build restarts: the first document not fully in finished shards and doc blocks. */
export interface ResumePoint {
  /** Local doc ordinal. */
  doc: number;
  /** Its line in the corpus, checked on resume (null when not read yet). */
  line: number | null;
  /** Passage ordinal of its first passage. */
  passage: number;
  /** Sum of token counts of the documents before it (for corpus.avgTokens). */
  tokensBefore: number;
}

export interface Checkpoint {
  fingerprint: Fingerprint;
  shards: ShardDone[];
  blocks: Array<ObjectRef & { first: number; count: number }>;
  resume: ResumePoint;
}

export const CHECKPOINT_FILE = "checkpoint.json";

export function readCheckpoint(dir: string): Checkpoint | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, CHECKPOINT_FILE), "utf8")) as Checkpoint;
  } catch {
    return undefined;
  }
}

/** Synchronous on purpose: callers from the encode chain and the reader never interleave a half-written state. */
export function writeCheckpoint(dir: string, c: Checkpoint): void {
  const file = path.join(dir, CHECKPOINT_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(c));
  renameSync(`${file}.tmp`, file);
}

/** Fields whose values differ, as `field: old -> new` lines. */
export function fingerprintDiff(a: Fingerprint, b: Fingerprint): string[] {
  const flat = (f: Fingerprint) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(f)) {
      if (v && typeof v === "object") for (const [k2, v2] of Object.entries(v)) out[`${k}.${k2}`] = v2;
      else out[k] = v;
    }
    return out;
  };
  const fa = flat(a);
  const fb = flat(b);
  const keys = new Set([...Object.keys(fa), ...Object.keys(fb)]);
  return [...keys].filter((k) => JSON.stringify(fa[k]) !== JSON.stringify(fb[k])).map((k) => `${k}: ${JSON.stringify(fa[k])} -> ${JSON.stringify(fb[k])}`);
}
