// The partitions of partitioned indexes, in the scoring kernels' memory: decoded once when a query first probes
// them, scanned there by every later query, evicted least recently used when the kernel memory (its own share of
// the isolate budget) is full. A partition a query is scanning is pinned and never evicted under it. Concurrent
// queries that miss the same partition share one fetch; the request's storage keeps at most 6 reads waiting.
import { checkedShard, objectKey, type ObjectRef } from "../../format";
import { freeKernelMemory, scanRows, toKernelRows, type DecodedPartition, type IvfPartition, type ScanPrecision } from "../../search/ivf";
import type { Kernels } from "../../search/kernels";
import { fetchVerified } from "./r2";
import type { Storage } from "./storage";


interface Entry {
  part: IvfPartition;
  pins: number;
}

/** What `acquire` pinned: hand it back to `release`. */
export type Pins = Entry[];

export interface PartitionCache {
  readonly kernels: Kernels;
  /**
   * The partitions of `refs` (in order) with their rows at the scan's precision (default int8), pinned until
   * `release(pins)`; fetched (verified) where not cached. One object scanned at two precisions is two entries.
   */
  acquire(s: Storage, tenant: string, index: string, refs: ObjectRef[], dims: number, scan?: ScanPrecision): Promise<{ parts: IvfPartition[]; pins: Pins }>;
  release(pins: Pins): void;
  /** Partitions held, and their bytes in kernel memory. */
  stats(): { partitions: number; bytes: number };
}

export function createPartitionCache(kernels: Kernels): PartitionCache {
  const entries = new Map<string, Entry>(); // insertion order = recency (re-inserted on use)
  const inflight = new Map<string, Promise<DecodedPartition>>();

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

  async function fetchDecoded(s: Storage, tenant: string, index: string, ref: ObjectRef, dims: number): Promise<DecodedPartition> {
    const shard = checkedShard(await fetchVerified(s, tenant, index, ref), ref, dims, "partition");
    return { count: shard.header.count, dims, vectors: shard.vectors, scales: shard.scales, ordinals: shard.ordinals.slice() };
  }

  /**
   * The pinned entry of `key`: cached, or made from `decoded` (given for a key not cached) now. Synchronous, so nothing is evicted between
   * finding or making the entry and pinning it. Kernel memory full of pinned partitions: an unpinned, uncached entry
   * over the typed arrays (scanned in JS).
   */
  function pin(key: string, scan: ScanPrecision, decoded?: DecodedPartition): Entry {
    let e = entries.get(key);
    if (!e) {
      if (!decoded) throw new Error(`partitions: ${key} is not cached`);
      let part = toKernelRows(kernels, decoded, scan);
      while (!part && evictOne()) part = toKernelRows(kernels, decoded, scan);
      if (!part) return { part: scanRows(decoded, scan), pins: 0 };
      entries.set(key, (e = { part, pins: 0 }));
    } else {
      entries.delete(key);
      entries.set(key, e); // most recently used last
    }
    e.pins++;
    return e;
  }

  return {
    kernels,
    async acquire(s, tenant, index, refs, dims, scan = "int8") {
      const keys = refs.map((r) => objectKey(tenant, index, r.path) + (scan === "int8" ? "" : `#${scan}`));
      // The cached ones are pinned at once, so other queries cannot evict them while this one waits for the rest.
      const pinned: Entry[] = new Array(refs.length);
      const missing: number[] = [];
      keys.forEach((key, i) => {
        if (entries.has(key)) pinned[i] = pin(key, scan);
        else missing.push(i);
      });
      // The shared fetch runs under waitUntil, so it settles (and this query goes on to release its pins) even if
      // the client went away. Every fetch settles before a failure is reported: nothing is pinned after the release.
      const settled = await Promise.allSettled(missing.map(async (i) => {
        const key = keys[i];
        let p = inflight.get(key);
        if (!p) {
          p = fetchDecoded(s, tenant, index, refs[i], dims).finally(() => inflight.delete(key));
          inflight.set(key, p);
          s.defer(p);
        }
        pinned[i] = pin(key, scan, await p);
      }));
      const failed = settled.find((r) => r.status === "rejected");
      if (failed) {
        this.release(pinned.filter(Boolean));
        throw (failed as PromiseRejectedResult).reason;
      }
      return { parts: pinned.map((e) => e.part), pins: pinned };
    },
    release(pins) {
      for (const e of pins) if (e.pins > 0) e.pins--;
    },
    stats() {
      return { partitions: entries.size, bytes: kernels.arena.stats().usedBytes };
    },
  };
}
