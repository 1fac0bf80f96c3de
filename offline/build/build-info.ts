// `build-info.json` beside a build directory's manifest: how the build was made (the fingerprint of its corpus,
// model and parameters), what `i3 merge` needs to join slices and `i3 build --base` and `i3 compact` need to encode
// the same way, and, for a build made from another version, its lineage (what `i3 publish` checks).
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Fingerprint } from "./checkpoint.ts";
import { BuildError } from "./errors.ts";

export const BUILD_INFO_FILE = "build-info.json";

/** What build-info.json holds. */
export interface BuildInfo {
  fingerprint: Fingerprint;
  /** `{k, n}` for a `--shard k/n` slice, else null. */
  slice: { k: number; n: number } | null;
  /** Global ordinal of this build's doc 0 in the corpus (0 unless a slice). */
  firstDoc: number;
  /** Documents of the whole corpus (after --limit). */
  corpusDocuments: number;
  /** Sum of token counts of the documents (before windowing). */
  tokens: number;
  /** Empty documents skipped by `--skip-empty` (present only with it). */
  skippedEmpty?: number;
  /**
   * A build made from another version (`i3 build --base`, `i3 compact`, or a manifest rewritten by `i3 defaults`):
   * the versions it descends from, oldest first (the last is its base). `i3 publish` puts it only over one of them:
   * over any other it would drop the changes that version has.
   */
  lineage?: string[];
  /** An incremental update: the base it was made from and how many updates its delta holds. */
  update?: { baseId: string; baseCreatedAt: string; updates: number };
  /** A version downloaded by `i3 pull`. */
  pulled?: { tenant: string; index: string; version: string };
}

/**
 * `i3 build`'s defaults of the parameters a manifest does not record (what `i3 pull` assumes of a published
 * version): passages per vector shard, per encoder call, and sorted together by length (batch * 16).
 */
export const BUILD_DEFAULTS = { shardSize: 8192, batch: 32, sortBatches: 16 } as const;

/** The lineage of a build made from `base`: the base's, then the base. */
export function lineageOf(base: { version: string }, baseInfo: BuildInfo): string[] {
  return [...(baseInfo.lineage ?? []), base.version];
}

/**
 * Reads a build directory's build-info.json; BuildError("invalid_build") naming the file and `why` it is needed when
 * it is missing or not JSON.
 */
export async function readBuildInfo(dir: string, why: string): Promise<BuildInfo> {
  const file = path.join(dir, BUILD_INFO_FILE);
  try {
    return JSON.parse(await readFile(file, "utf8")) as BuildInfo;
  } catch (e) {
    throw new BuildError("invalid_build", `${file}: ${(e as Error).message} (${why})`, { cause: e });
  }
}

/** The lineage a build directory records; undefined without one (a build from a corpus), or without build-info.json. */
export async function readLineage(dir: string): Promise<string[] | undefined> {
  return lineageIn(await readInfoJson(dir));
}

/** The parsed build-info.json of `dir`; undefined when it is missing or not JSON. */
export async function readInfoJson(dir: string): Promise<{ lineage?: unknown } | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, BUILD_INFO_FILE), "utf8"));
  } catch {
    return undefined;
  }
}

/** The lineage a parsed build-info.json records (an array of version ids), if any. */
export function lineageIn(info: { lineage?: unknown } | undefined): string[] | undefined {
  const l = info?.lineage;
  return Array.isArray(l) && l.every((v) => typeof v === "string") ? l : undefined;
}
