// Object references: every object of an index is content-addressed, `objects/<sha256>.<ext>`.
import * as z from "zod";
import { sha256Hex } from "./checksum.ts";
import { int, matching, reject, sha256Field, U32 } from "./fields.ts";
import { INDEX_LIMITS } from "./limits.ts";
import { OBJECT_PATH_PATTERN } from "./r2-keys.ts";

/** Kinds of objects v1 writes. A newer minor may add kinds; readers ignore objects of kinds they do not know. */
export type ObjectKind = "shard" | "docs" | "model" | "vocab" | "centroids" | "refine" | "lexical" | "fields" | "ids" | "static" | "tombstones" | (string & {});

const KIND_PATTERN = /^[a-z][a-z0-9_-]*$/;

/** The fields of an object reference; `kind` is any kind, or only `kind` when given. Schemas built on them
 * must `superRefine(namedByHash)`. */
export function objectRefFields(kind?: string) {
  return {
    /** `objects/<sha256>.<ext>`, relative to the build directory or the index prefix in R2. */
    path: matching(OBJECT_PATH_PATTERN, "objects/<sha256>.<ext>"),
    kind: kind === undefined ? matching(KIND_PATTERN) : z.string().refine((k) => k === kind, { error: JSON.stringify(kind) }),
    /** Exact size in bytes, at most INDEX_LIMITS.maxObjectBytes. */
    bytes: int(0, INDEX_LIMITS.maxObjectBytes),
    /** Lower-case hex SHA-256 of the bytes. */
    sha256: sha256Field,
    /** Items inside: vectors of a shard, documents of a doc block, terms of a lexical bucket. */
    count: int(0, U32).optional(),
  };
}

/** The path of a content-addressed object is named by its own hash. */
export function namedByHash(ref: { path: string; sha256: string }, ctx: z.RefinementCtx): void {
  if (!ref.path.startsWith(`objects/${ref.sha256}.`)) reject(ctx, ["path"], `objects/${ref.sha256}.<ext>`, ref.path);
}

/** Where an object must say how many items it holds (the type keeps `count` optional, as in `ObjectRef`). */
export function counted(ref: { count?: number }, ctx: z.RefinementCtx): void {
  if (ref.count === undefined) reject(ctx, ["count"], `an integer in 0..${U32}`, undefined);
}

/** One object of an index, as listed in `manifest.objects` and referenced from its sections. */
export const ObjectRefSchema = z.object(objectRefFields()).superRefine(namedByHash);
export type ObjectRef = z.output<typeof ObjectRefSchema>;

/**
 * A reference to an object of `kind`, with a `count` when `opts.counted`.
 *
 * @example
 * const ShardRef = objectRefOf("shard", { counted: true });
 */
export function objectRefOf(kind: string, opts: { counted?: boolean } = {}) {
  const schema = z.object(objectRefFields(kind)).superRefine(namedByHash);
  return opts.counted ? schema.superRefine(counted) : schema;
}

/** File extension of each kind the offline writer uses. */
export const OBJECT_EXT: Record<string, string> = {
  shard: "i3vs",
  docs: "i3db",
  model: "onnx",
  vocab: "json",
  centroids: "i3vc",
  refine: "i3vf",
  ids: "i3id",
  static: "i3sq",
  tombstones: "i3ts",
};

/** `objects/<sha256>.<ext>` */
export function objectPath(sha256: string, ext: string): string {
  return `objects/${sha256}.${ext}`;
}

/**
 * Hashes `bytes` and returns their reference (the writer then stores the bytes at `ref.path`).
 *
 * @example
 * const ref = await createObjectRef("shard", shardBytes, { count: 4096 }); // path "objects/<sha>.i3vs"
 */
export async function createObjectRef(
  kind: ObjectKind,
  bytes: Uint8Array,
  opts: { ext?: string; count?: number } = {},
): Promise<ObjectRef> {
  const sha256 = await sha256Hex(bytes);
  const ext = opts.ext ?? OBJECT_EXT[kind] ?? "bin";
  const ref: ObjectRef = { path: objectPath(sha256, ext), kind, bytes: bytes.byteLength, sha256 };
  if (opts.count !== undefined) ref.count = opts.count;
  return ref;
}
