import { ApiError } from "../http-error";
import { FormatError, validateName } from "../../format";
import { createKernels } from "../../search/kernels";
import { createByteCache, type ByteCache } from "./byte-cache";
import { loadIndex, readPointer, type IsolateCaches, type LoadedIndex } from "./loaded-index";
import { createPartitionCache, type PartitionCache } from "./partitions";
import type { Storage } from "./storage";

/** Per-isolate state of one index. */
interface Slot {
  /** The version serving now (the last one that loaded and verified). */
  current: LoadedIndex | null;
  /** When the pointer was last read (ms). */
  checkedAt: number;
  /** A refresh in flight, shared by concurrent requests. */
  refreshing: Promise<void> | null;
  /** Why the newest pointed-to version could not be loaded, if it could not. */
  failedVersion: string | null;
}

export interface RegistryOptions {
  /** How old a pointer may be; 0: read it on every request, before answering (tests, development). */
  pointerTtlMs: number;
  /** The isolate's memory for indexes: half for partitions (kernel memory), half for the rest. */
  cacheBudgetBytes: number;
  /** The compiled scoring kernels (kernels.wasm); absent: partitions are scanned in JS. */
  kernels?: WebAssembly.Module;
  now?: () => number;
}

export interface IndexRegistry {
  /**
   * The index to search: re-reads the pointer when older than the TTL, loads a new version when it moved,
   * and keeps serving the last good version when the new one is corrupt.
   */
  get(s: Storage, tenant: string, index: string): Promise<LoadedIndex>;
  cache: ByteCache;
  /** Answers of earlier requests, by index version and request (src/worker/routes/search.ts). */
  results: ByteCache;
  partitions: PartitionCache;
}

export function createRegistry(opts: RegistryOptions): IndexRegistry {
  const slots = new Map<string, Slot>();
  // Half the budget for models, flat shards, BM25 buckets and documents (one query model must fit it). The other
  // half for partitioned indexes: their partitions in kernel memory, refine rows (large, rarely reused: apart, so
  // they never evict the rest) and the results of earlier requests (small, the most valuable per byte).
  const half = Math.floor(opts.cacheBudgetBytes / 2);
  const cache = createByteCache(half);
  const refine = createByteCache(Math.floor(half / 8));
  const results = createByteCache(Math.floor(half / 16));
  const partitions = createPartitionCache(createKernels(opts.kernels, { maxBytes: half - refine.budget - results.budget }));
  const iso: IsolateCaches = { cache, refine, partitions };
  const now = opts.now ?? Date.now;

  async function refresh(s: Storage, tenant: string, index: string, slot: Slot): Promise<void> {
    const pointer = await readPointer(s, tenant, index).catch((e) => {
      if (slot.current && e instanceof FormatError) return undefined; // unreadable pointer: keep the good version
      throw e;
    });
    slot.checkedAt = now();
    if (pointer === undefined) return;
    if (pointer === null) {
      slot.current = null; // unpublished or deleted: stop serving it
      return;
    }
    if (slot.current?.version === pointer.version || slot.failedVersion === pointer.version) return;
    try {
      slot.current = await loadIndex(s, iso, tenant, index, pointer);
      slot.failedVersion = null;
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      slot.failedVersion = pointer.version;
      if (!slot.current) throw e; // nothing good to serve: the app's onError logs it and answers 503
      console.error(`index ${tenant}/${index} version ${pointer.version} is corrupt: ${e.code}: ${e.message}`);
    }
  }

  return {
    cache,
    results,
    partitions,
    async get(s, tenant, index) {
      validateName("tenant", tenant); // FormatError invalid_name: 400 (src/worker/http-error.ts)
      validateName("index", index);
      const id = `${tenant}/${index}`;
      let slot = slots.get(id);
      if (!slot) {
        slot = { current: null, checkedAt: -Infinity, refreshing: null, failedVersion: null };
        slots.set(id, slot);
      }
      if (now() - slot.checkedAt >= opts.pointerTtlMs || (!slot.current && !slot.failedVersion)) {
        const sl = slot;
        sl.refreshing ??= refresh(s, tenant, index, sl).finally(() => (sl.refreshing = null));
        // Under waitUntil, so it settles even if this request goes away. With a version to serve, a refresh never
        // holds up the request: it runs after the response.
        s.defer(sl.refreshing);
        if (!sl.current || opts.pointerTtlMs === 0) await sl.refreshing;
      }
      if (!slot.current) {
        if (slot.failedVersion) {
          throw new ApiError(503, "index_unavailable", `index ${id} version ${slot.failedVersion} is corrupt and no good version is cached`);
        }
        throw new ApiError(404, "index_not_found", `no index ${id}`);
      }
      return slot.current;
    },
  };
}
