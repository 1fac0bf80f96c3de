// Object references: every object of an index is content-addressed, `objects/<sha256>.<ext>`.
import { sha256Hex } from "./checksum.ts";

/** Kinds of objects v1 writes. A newer minor may add kinds; readers ignore objects of kinds they do not know. */
export type ObjectKind = "shard" | "docs" | "model" | "vocab" | "centroids" | "lexical" | (string & {});

/** One object of an index, as listed in `manifest.objects` and referenced from its sections. */
export interface ObjectRef {
  /** `objects/<sha256>.<ext>`, relative to the build directory or the index prefix in R2. */
  path: string;
  kind: ObjectKind;
  /** Exact size in bytes. */
  bytes: number;
  /** Lower-case hex SHA-256 of the bytes. */
  sha256: string;
  /** Items inside: vectors of a shard, documents of a doc block. */
  count?: number;
}

/** File extension of each kind the offline writer uses. */
export const OBJECT_EXT: Record<string, string> = {
  shard: "i3vs",
  docs: "i3db",
  model: "onnx",
  vocab: "json",
  centroids: "f32",
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
