import { INDEX_LIMITS } from "../../../format";

/** Limits of the admin (publishing) API: the index's own (src/format/limits.ts), checked at upload. */
export const ADMIN_LIMITS = {
  /** Bytes of one object (413 above, from its Content-Length). Objects stream to R2 (never held in memory). */
  maxObjectBytes: INDEX_LIMITS.maxObjectBytes,
  /** Bytes of a manifest (parsed in memory). */
  maxManifestBytes: INDEX_LIMITS.maxManifestBytes,
  /** Bytes of a pointer body. */
  maxPointerBytes: INDEX_LIMITS.maxPointerBytes,
  /** Missing objects named in a 409 `missing_objects`. */
  missingListed: 5,
  /** Concurrent HEADs while checking a manifest's objects. */
  headConcurrency: 16,
  /** Objects of a manifest checked one HEAD each; above, the index's objects are listed instead (subrequest limit). */
  maxHeads: 256,
  /** List calls (of 1,000 objects) while checking a large manifest's objects. */
  maxListCalls: 200,
} as const;
