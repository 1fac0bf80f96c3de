// The partitions of partitioned indexes, in the scoring kernels' memory: decoded once when a query first probes
// them, scanned there by every later query, evicted least recently used when the kernel memory (its own share of
// the isolate budget) is full. A partition a query is scanning is pinned and never evicted under it. Concurrent
// queries that miss the same partition share one fetch; one query fetches at most 6 at once (the connections a
// Worker request may have waiting).
import { decodeShard, FormatError, objectKey, type ObjectRef } from "../../format";
import { forEachLimit } from "../../pool";
import { freeKernelMemory, toKernelMemory, type IvfPartition } from "../../search/ivf";
import type { Kernels } from "../../search/kernels";
import { fetchVerified } from "./r2";
import type { Storage } from "./storage";

/** Outgoing connections one request may have waiting (Workers' limit). */
export const MAX_CONNECTIONS = 6;

interface Entry {
  part: IvfPartition;
  pins: number;
}

export interface PartitionCache {
  readonly kernels: Kernels;
  /** The partitions of `refs` (in order), pinned until `release(keys)`; fetched (verified) where not cached. */
  acquire(s: Storage, tenant: string, index: string, refs: ObjectRef[], dims: number): Promise<{ parts: IvfPartition[]; keys: string[] }>;
  release(keys: string[]): void;
  /** Partitions held, and their bytes in kernel memory. */
  stats(): { partitions: number; bytes: number };
}

export function createPartitionCache(kernels: Kernels): PartitionCache {
  const entries = new Map<string, Entry>(); // insertion order = recency (re-inserted on use)
  const inflight = new Map<string, Promise<IvfPartition>>();

  const touch = (key: string, e: Entry) => {
    entries.delete(key);
    entries.set(key, e);
  };

  /** Evicts the least recently used unpinned partition; false when every one is pinned. */
  const evictOne = (): boolean => {
    for (const [key, e] of entries) {
      if (e.pins > 0) continue;
      entries.delete(key);
      freeKernelMemory(kernels, e.part);
      return true;
    }
    return false;
  };

  async function load(s: Storage, tenant: string, index: string, ref: ObjectRef, dims: number): Promise<IvfPartition> {
    const shard = decodeShard(await fetchVerified(s, tenant, index, ref));
    if (shard.header.dims !== dims || shard.header.count !== ref.count) {
      throw new FormatError("invalid_object", `partition ${ref.path}: expected ${ref.count} vectors of ${dims} dims, got ${shard.header.count} of ${shard.header.dims}`);
    }
    const decoded = { count: shard.header.count, dims, vectors: shard.vectors, scales: shard.scales, ordinals: shard.ordinals.slice() };
    for (;;) {
      const part = toKernelMemory(kernels, decoded);
      if (part) return part;
      // Kernel memory is full of pinned partitions: scan this one from its typed arrays, uncached.
      if (!evictOne()) return { count: decoded.count, ordinals: decoded.ordinals, vectors: decoded.vectors, scales: decoded.scales };
    }
  }

  return {
    kernels,
    async acquire(s, tenant, index, refs, dims) {
      const keys = refs.map((r) => objectKey(tenant, index, r.path));
      const parts: IvfPartition[] = new Array(refs.length);
      const pinned: string[] = [];
      const missing: number[] = [];
      keys.forEach((key, i) => {
        const e = entries.get(key);
        if (e) {
          e.pins++;
          pinned.push(key);
          touch(key, e);
          parts[i] = e.part;
        } else missing.push(i);
      });
      try {
        await forEachLimit(missing, MAX_CONNECTIONS, async (i) => {
          const key = keys[i];
          let p = inflight.get(key);
          if (!p) {
            p = load(s, tenant, index, refs[i], dims).finally(() => inflight.delete(key));
            inflight.set(key, p);
          }
          const part = await p;
          let e = entries.get(key);
          if (!e && part.block) entries.set(key, (e = { part, pins: 0 }));
          if (e) {
            e.pins++;
            pinned.push(key);
          }
          parts[i] = e?.part ?? part;
        });
      } catch (err) {
        this.release(pinned);
        throw err;
      }
      return { parts, keys: pinned };
    },
    release(keys) {
      for (const key of keys) {
        const e = entries.get(key);
        if (e && e.pins > 0) e.pins--;
      }
    },
    stats() {
      return { partitions: entries.size, bytes: kernels.arena.stats().usedBytes };
    },
  };
}
