import { ApiError } from "../http-error";
import { validateName } from "../../format";
import { splitBudget } from "../../search/budget";
import { createKernels } from "../../search/kernels";
import { createLru, type Lru } from "../lru";
import { createByteCache, type ByteCache } from "./byte-cache";
import { nextFailure, type BACKOFF, type LoadFailure } from "./load-failure";
import { loadIndex, type IsolateCaches, type LoadedIndex } from "./loaded-index";
import { readPointerShared } from "./manifest-reader";
import { createPartitionCache, type PartitionCache } from "./partitions";
import type { Storage } from "./storage";
import type { OnnxRuntime } from "../encoder/query-encoder";

/** Per-isolate state of one index name. */
interface Slot {
  /**
   * The version serving now (the last one that loaded and verified). It is held in a byte cache of loaded versions
   * too, counted at its resident bytes: when that evicts it, this goes back to null and the next request loads it
   * again (its objects mostly from the isolate and colo caches).
   */
  current: LoadedIndex | null;
  /** When the pointer was last read (ms). */
  checkedAt: number;
  /** A refresh in flight, shared by concurrent requests. */
  refreshing: Promise<void> | null;
  /** The newest pointed-to version that could not be loaded, and when to try it again (load-failure.ts). */
  failure: LoadFailure | null;
  /** The last pointer read failed (an R2 error or an unreadable pointer): not read again before its back-off. */
  pointerFailure: LoadFailure | null;
  /** The pointer said the index does not exist. */
  missing: boolean;
}

export interface RegistryOptions {
  /** How old a pointer may be; 0: read it on every request, before answering (tests, development). */
  pointerTtlMs: number;
  /** When a failed load is tried again (default BACKOFF, src/worker/store/load-failure.ts). */
  backoff?: typeof BACKOFF;
  /** The isolate's memory for indexes: half for partitions (kernel memory), half for the rest. */
  cacheBudgetBytes: number;
  /** The compiled scoring kernels (kernels.wasm); absent: partitions are scanned in JS. */
  kernels?: WebAssembly.Module;
  /**
   * Where a query model the kernels do not take runs (src/worker/encoder/ort-web.ts `onnxruntimeWeb`); absent: such a
   * model cannot be loaded (503 `index_unavailable`), as in the lite worker (src/index-lite.ts).
   */
  onnxruntime?: OnnxRuntime;
  /** Index names with state in this isolate (default 1024); the least recently searched leaves first. */
  maxIndexes?: number;
  /** Names without an index, remembered for `pointerTtlMs` so they cost no R2 read each (default 4096). */
  maxMissing?: number;
  now?: () => number;
}

export interface IndexRegistry {
  /**
   * The index to search: re-reads the pointer when older than the TTL, loads a new version when it moved, and keeps
   * serving the last good version when the new one cannot be loaded (remembered, with a back-off). Throws 404
   * `index_not_found`, or 503 `index_unavailable` / `index_too_large` when no good version is cached.
   */
  get(s: Storage, tenant: string, index: string): Promise<LoadedIndex>;
  cache: ByteCache;
  /** Answers of earlier requests, by index version and request (src/worker/routes/search.ts). */
  results: ByteCache;
  partitions: PartitionCache;
  /** Index names with state, and names remembered as missing (bounded: `maxIndexes`, `maxMissing`). */
  sizes(): { indexes: number; missing: number };
}

export function createRegistry(opts: RegistryOptions): IndexRegistry {
  // Half the budget for models, flat shards, BM25 buckets and documents; the other half for partitions in kernel
  // memory, refine rows, results and loaded versions (src/search/budget.ts says why each is apart).
  const split = splitBudget(opts.cacheBudgetBytes);
  const cache = createByteCache(split.cache);
  const refine = createByteCache(split.refine);
  const results = createByteCache(split.results);
  const loadedVersions = createByteCache(split.loadedVersions);
  const partitions = createPartitionCache(createKernels(opts.kernels, { maxBytes: split.kernels }));
  const iso: IsolateCaches = { cache, kernels: opts.kernels, onnxruntime: opts.onnxruntime, refine, partitions };
  const now = opts.now ?? Date.now;
  const slots: Lru<Slot> = createLru({ max: opts.maxIndexes ?? 1024, now, onEvict: (_, slot) => drop(slot) });
  const missing: Lru<true> = createLru({ max: opts.maxMissing ?? 4096, ttlMs: opts.pointerTtlMs, now });

  const loadedKey = (l: LoadedIndex) => `index:${l.tenant}/${l.index}@${l.version}`;
  /** Makes `loaded` the slot's version, held in the cache (counted) until evicted or replaced. */
  function keep(slot: Slot, loaded: LoadedIndex): void {
    drop(slot);
    slot.current = loaded;
    loadedVersions.set(loadedKey(loaded), loaded, loaded.residentBytes, () => {
      if (slot.current === loaded) slot.current = null;
    });
  }
  function drop(slot: Slot): void {
    const old = slot.current;
    slot.current = null;
    if (old) loadedVersions.delete(loadedKey(old));
  }

  /** Whether a request must (re)read the pointer, or retry a failed version, before it is answered. */
  function due(slot: Slot): boolean {
    const t = now();
    if (slot.pointerFailure) return t >= slot.pointerFailure.retryAt;
    if (t - slot.checkedAt >= opts.pointerTtlMs) return true;
    return !slot.current && !(slot.failure && t < slot.failure.retryAt);
  }

  /** Reads the pointer and loads the version it names; never throws: what failed is left in the slot. */
  async function refresh(s: Storage, tenant: string, index: string, slot: Slot): Promise<void> {
    const id = `${tenant}/${index}`;
    let pointer, readAt;
    try {
      ({ pointer, readAt } = await readPointerShared(s, tenant, index, opts.pointerTtlMs, now()));
    } catch (e) {
      slot.pointerFailure = nextFailure(slot.pointerFailure, null, e, now(), opts.backoff);
      logFailure(id, "its pointer could not be read", slot.pointerFailure, slot, e);
      return;
    }
    slot.pointerFailure = null;
    slot.checkedAt = readAt;
    slot.missing = pointer === null;
    if (pointer === null) return drop(slot); // unpublished or deleted: stop serving it
    if (slot.current?.version === pointer.version) {
      // Back on the version that serves (a rollback): another version's failure no longer matters. (Its own stays
      // while its query model has not loaded: a first version whose model failed goes on backing off.)
      if (slot.failure?.version !== pointer.version) slot.failure = null;
      return;
    }
    if (slot.failure?.version === pointer.version && now() < slot.failure.retryAt) return;
    try {
      const loaded = await loadIndex(s, iso, tenant, index, pointer);
      if (slot.current) {
        await loaded.ensureModel(s); // a replacement: the version serving now goes on until the new one's model works
        keep(slot, loaded);
        slot.failure = null;
      } else {
        // Nothing to serve yet: the version serves at once (BM25, the static tier and cached query vectors need no
        // session); its model's first load decides whether it stays (`watchFirstModel`).
        watchFirstModel(id, slot, loaded);
        keep(slot, loaded);
        if (slot.failure?.version !== loaded.version) slot.failure = null;
      }
    } catch (e) {
      slot.failure = nextFailure(slot.failure, pointer.version, e, now(), opts.backoff);
      logFailure(id, `version ${pointer.version} could not be loaded`, slot.failure, slot, e);
    }
  }

  /**
   * A first version serves before its query model is loaded: a request that needs the model loads it; if that first
   * load fails, the version is taken out with this version's back-off (kept until the model has loaded once); a later
   * reload (after the isolate cache evicted the model) that fails is that request's error only. The isolate may hold
   * the model already (another index with the same model, or this version loaded again after the loaded-versions
   * cache evicted it): that counts as its first load too.
   */
  function watchFirstModel(id: string, slot: Slot, loaded: LoadedIndex): void {
    const { version, ensureModel: ensure, modelLoaded: held } = loaded;
    let loadedOnce = false;
    const markLoaded = () => {
      if (loadedOnce) return;
      loadedOnce = true;
      if (slot.failure?.version === version) slot.failure = null;
    };
    loaded.modelLoaded = () => {
      const yes = held();
      if (yes) markLoaded();
      return yes;
    };
    loaded.ensureModel = (rs) => ensure(rs).then(markLoaded, (e) => {
      if (loadedOnce) throw e;
      if (slot.current === loaded) {
        drop(slot);
        slot.failure = nextFailure(slot.failure, version, e, now(), opts.backoff);
        logFailure(id, `version ${version}'s query model could not be loaded`, slot.failure, slot, e);
      }
      throw slot.current ? e : unavailable(id, slot); // another version serves now: this request's error only
    });
  }

  function logFailure(id: string, what: string, f: LoadFailure, slot: Slot, e: unknown): void {
    const serving = slot.current ? `still serving version ${slot.current.version}` : "no good version is cached";
    const detail = e instanceof Error ? `${e.name}${"code" in e ? ` ${String(e.code)}` : ""}: ${e.message}` : String(e);
    console.error(`index ${id}: ${what} (${f.kind}, attempt ${f.attempts}, next try in ${f.retryAt - now()} ms); ${serving}: ${detail}`);
  }

  /** The answer while nothing good is cached: 503 with when to come back; the detail is in the log. */
  function unavailable(id: string, slot: Slot): ApiError {
    const f = slot.failure ?? slot.pointerFailure; // none: the slot left the isolate while its load ran
    const headers = { "Retry-After": String(f ? Math.max(1, Math.ceil((f.retryAt - now()) / 1000)) : 1) };
    if (f?.code === "index_too_large") {
      return new ApiError(503, "index_too_large", `index ${id} is too large for this service as a flat index: it must be rebuilt partitioned`, { headers });
    }
    return new ApiError(503, "index_unavailable", `index ${id} is unavailable: its published version could not be loaded and no good version is cached`, { headers });
  }

  return {
    cache,
    results,
    partitions,
    sizes: () => ({ indexes: slots.size, missing: missing.size }),
    async get(s, tenant, index) {
      validateName("tenant", tenant); // FormatError invalid_name: 400 (src/worker/http-error.ts)
      validateName("index", index);
      const id = `${tenant}/${index}`;
      if (missing.get(id)) throw notFound(id);
      let slot = slots.get(id);
      if (!slot) {
        slot = { current: null, checkedAt: -Infinity, refreshing: null, failure: null, pointerFailure: null, missing: false };
        slots.set(id, slot);
      }
      if (due(slot)) {
        const sl = slot;
        sl.refreshing ??= refresh(s, tenant, index, sl).finally(() => (sl.refreshing = null));
        // Under waitUntil, so it settles even if this request goes away. With a version to serve, a refresh never
        // holds up the request: it runs after the response.
        s.defer(sl.refreshing);
        if (!sl.current || opts.pointerTtlMs === 0) await sl.refreshing;
      }
      if (slot.current) {
        loadedVersions.get(loadedKey(slot.current)); // most recently used
        return slot.current;
      }
      if (slot.missing) {
        slots.delete(id);
        missing.set(id, true);
        throw notFound(id);
      }
      throw unavailable(id, slot);
    },
  };
}

const notFound = (id: string) => new ApiError(404, "index_not_found", `no index ${id}`);
