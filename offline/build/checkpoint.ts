// The resume state of a build, kept in `<out>.partial/checkpoint.json` and rewritten (atomically) after every
// finished shard and doc block. A rerun with the same fingerprint keeps the finished objects and continues from
// `resume`; any other fingerprint refuses to resume (unless --restart).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { ObjectRef } from "../../src/format/index.ts";
import { BuildError } from "./errors.ts";
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

/**
 * The state a build starts from in `partial`: its checkpoint when it holds finished objects made with the same
 * fingerprint (a resume), else a fresh one (`partial` emptied). Another fingerprint is a BuildError
 * ("resume_mismatch") unless `restart`. The state is written back at once.
 */
export async function openCheckpoint(partial: string, fingerprint: Fingerprint, restart: boolean): Promise<{ state: Checkpoint; resumed: boolean }> {
  let resumed: Checkpoint | undefined;
  if (await stat(partial).then(() => true, () => false)) {
    const old = restart ? undefined : readCheckpoint(partial);
    if (old && (old.shards.length || old.blocks.length)) {
      const diff = fingerprintDiff(old.fingerprint, fingerprint);
      if (diff.length) {
        throw new BuildError(
          "resume_mismatch",
          `${partial} holds a build started with other arguments:\n  ${diff.join("\n  ")}\n` +
            `rerun with the same arguments to resume it, or pass --restart to discard it`,
        );
      }
      resumed = old;
    } else await rm(partial, { recursive: true, force: true });
  }
  await mkdir(path.join(partial, "objects"), { recursive: true });
  const state: Checkpoint = resumed ?? { fingerprint, shards: [], blocks: [], resume: { doc: 0, line: null, passage: 0, tokensBefore: 0 } };
  writeCheckpoint(partial, state);
  return { state, resumed: resumed !== undefined };
}

/** How far a build has read: what the next resume point is computed from. */
export interface ReadProgress {
  docsRead: number;
  passagesRead: number;
  tokens: number;
  /** Where each document read since the last resume point starts, oldest first. */
  docStarts: ResumePoint[];
}

/**
 * Where a rerun would restart now: at the document holding the first passage not in a finished shard (the next
 * unread one when all read passages are), or earlier at the first document of the unfinished doc block. Drops the
 * document starts before it from `progress`.
 */
export function nextResumePoint(state: Checkpoint, progress: ReadProgress): ResumePoint {
  const passagesDone = state.shards.reduce((n, s) => n + s.count, 0);
  const docsDone = state.blocks.reduce((n, x) => n + x.count, 0);
  const { docStarts } = progress;
  let r: ResumePoint = { doc: progress.docsRead, line: null, passage: progress.passagesRead, tokensBefore: progress.tokens };
  if (passagesDone < progress.passagesRead) {
    for (let i = docStarts.length - 1; i >= 0; i--) {
      if (docStarts[i].passage <= passagesDone) {
        r = { ...docStarts[i] };
        break;
      }
    }
  }
  if (docsDone < r.doc) {
    const d = docStarts.find((x) => x.doc === docsDone);
    if (!d) throw new Error(`internal: no start recorded for doc ${docsDone}`);
    r = { ...d };
  }
  while (docStarts.length && docStarts[0].doc < r.doc) docStarts.shift();
  return r;
}

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
