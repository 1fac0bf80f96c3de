// The caps on what one index may be: checked when a manifest is parsed (so at build, at publish through the worker
// and when the worker loads a version), and on every read the worker makes from R2 (a size is compared with them, or
// with the manifest, before a body is read). One tenant's index can then never make an isolate, which serves every
// tenant, read more than these bytes at once. The 1M-passage index of docs/RESULTS.md section 9 has 3,566 objects,
// a 2 MB manifest, 1.75 GB in all and no object above 7.1 MB (its query model).

/** Caps of an index version (docs/ARCHITECTURE.md, "Capacity"). */
export const INDEX_LIMITS = {
  /** Bytes of a manifest (parsed whole, in memory). */
  maxManifestBytes: 16 * 1024 * 1024,
  /** Objects one manifest lists. */
  maxObjects: 16_384,
  /** Bytes of one object: a query model, a shard, a doc block. The worker reads whole objects into the isolate. */
  maxObjectBytes: 32 * 1024 * 1024,
  /** Bytes of every object of a version together. */
  maxIndexBytes: 16 * 1024 * 1024 * 1024,
  /** Bytes of a pointer (`.../current`). */
  maxPointerBytes: 4 * 1024,
} as const;
