/** Limits of the admin (publishing) API. */
export const ADMIN_LIMITS = {
  /** Bytes of one object: R2's single-put limit. Objects stream to R2 (never held in memory); the platform's request
   *  size limit (100 MB on the Free and Pro plans) applies before this one. */
  maxObjectBytes: 5 * 1024 * 1024 * 1024,
  /** Bytes of a manifest (parsed in memory). */
  maxManifestBytes: 16 * 1024 * 1024,
  /** Bytes of a pointer body. */
  maxPointerBytes: 4 * 1024,
  /** Missing objects named in a 409 `missing_objects`. */
  missingListed: 5,
  /** Concurrent HEADs while checking a manifest's objects. */
  headConcurrency: 16,
} as const;
