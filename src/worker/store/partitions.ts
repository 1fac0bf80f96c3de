// The partitions of partitioned indexes, in the scoring kernels' memory: decoded once when a query first probes
// them, scanned there by every later query, evicted least recently used when the kernel memory (its own share of
// the isolate budget) is full. A partition a query is scanning is pinned and never evicted under it. Concurrent
// queries that miss the same partition share one fetch; the request's storage keeps at most 6 reads waiting. An index
// scanned int4 shares the int4 form of each partition through the colo cache (src/format/int4-partition.ts), where
// the deployment has a COLO_SHARE_SECRET: the first isolate of a colo makes it from the verified int8 shard and puts it
// at a URL under the secret's namespace (no other Worker on the zone can find or write it), its header (which names
// the shard) sealed; the others read half the bytes and convert nothing. As with content-addressed objects, what the
// colo returns is not hashed again on every read (a seal over the whole body cost 3-4 ms a query at 1M passages).
import {
  checkedShard, decodeInt4Partition, encodeInt4Partition, INT4_PARTITION_HEADER_BYTES, INT4_PARTITION_SUFFIX, objectKey, type ObjectRef,
} from "../../format";
import {
  freeKernelMemory, scanRows, toKernelMemory, toKernelRows, type DecodedPartition, type IvfPartition, type ScanPrecision,
} from "../../search/ivf";
import { INT4_ROWS_VERSION, type Kernels } from "../../search/kernels";
import { getSealed, putSealed, sealOf, type ColoSeal } from "./colo-seal";
import { fetchVerified } from "./r2";
import { coloKey, type Storage } from "./storage";


interface Entry {
  part: IvfPartition;
  pins: number;
}

/** Where a shard's int4 form lives in the colo cache: under the deployment's namespace, sealed. */
interface Int4Entry {
  url: string;
  seal: ColoSeal;
}

/**
 * A partition as read: its int8 shard (with, for an int4 scan the colo can share, where to put the int4 rows made from
 * it), or its int4 form from the colo cache.
 */
type Fetched = { int8: DecodedPartition; share?: Int4Entry } | { int4: IvfPartition };

/** The seal the colo shares int4 rows under: the deployment's, where it has a colo cache and a COLO_SHARE_SECRET; else null. */
export async function int4Seal(s: Storage): Promise<ColoSeal | null> {
  return s.colo ? sealOf(s) : null;
}

async function int4Entry(s: Storage, key: string): Promise<Int4Entry | null> {
  const seal = await int4Seal(s);
  return seal && { url: coloKey(`int4/${seal.namespace}/${key}${INT4_PARTITION_SUFFIX}.r${INT4_ROWS_VERSION}`), seal };
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
  const inflight = new Map<string, Promise<Fetched>>();

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

  /**
   * A partition's rows: for an int4 scan its int4 form from the colo cache where there (sealed by this deployment,
   * made from this very shard; any other is passed over), else the int8 shard (colo cache, else R2, verified).
   */
  async function fetchRows(s: Storage, key: string, tenant: string, index: string, ref: ObjectRef, dims: number, scan: ScanPrecision): Promise<Fetched> {
    const entry = scan === "int4" ? await int4Entry(s, key) : null;
    // The seal covers the URL and the header (which names the shard); the rows are not hashed on every read.
    const hit = entry && (await getSealed(s, entry.url, entry.seal, INT4_PARTITION_HEADER_BYTES));
    if (hit) {
      try {
        const p = decodeInt4Partition(hit, { dims, count: ref.count!, shard: ref.sha256 });
        s.stats.colo++;
        return { int4: { count: p.count, ordinals: p.ordinals, packed: p.packed, scales: p.scales } };
      } catch {
        // not this shard's int4 form: the shard instead (and its int4 form put again)
      }
    }
    const shard = checkedShard(await fetchVerified(s, tenant, index, ref), ref, dims, "partition");
    const int8 = { count: shard.header.count, dims, vectors: shard.vectors, scales: shard.scales, ordinals: shard.ordinals.slice() };
    return entry ? { int8, share: entry } : { int8 };
  }

  /**
   * Puts the int4 form of a partition this isolate made from its shard into the colo cache at `entry`, sealed (after
   * the response). Copied at once from the kernel memory (a view there is good until the next allocation); a failure
   * only means the colo's next isolates make it again.
   */
  function shareInt4(s: Storage, entry: Int4Entry, key: string, ref: ObjectRef, part: IvfPartition, dims: number): void {
    try {
      const count = part.count;
      const packed = part.block4 ? kernels.arena.u8At(part.block4.packed, (count * dims) >>> 1) : part.packed;
      const scales = part.block4 ? kernels.arena.f32At(part.block4.scales, count) : part.scales;
      if (!packed || !scales) return;
      putSealed(s, entry.url, entry.seal, encodeInt4Partition({ dims, count, shard: ref.sha256, packed, scales, ordinals: part.ordinals }), INT4_PARTITION_HEADER_BYTES);
    } catch (e) {
      console.error(`partitions: the int4 form of ${key} was not shared: ${(e as Error)?.message ?? e}`);
    }
  }

  /**
   * The pinned entry of `key`: cached, or made from `fetched` (given for a key not cached) now. Synchronous, so nothing is evicted between
   * finding or making the entry and pinning it. Kernel memory full of pinned partitions: an unpinned, uncached entry
   * over the typed arrays (scanned in JS).
   */
  function pin(key: string, scan: ScanPrecision, fetched?: Fetched): Entry {
    let e = entries.get(key);
    if (!e) {
      if (!fetched) throw new Error(`partitions: ${key} is not cached`);
      const place = () => ("int4" in fetched ? toKernelMemory(kernels, fetched.int4) : toKernelRows(kernels, fetched.int8, scan));
      let part = place();
      while (!part && evictOne()) part = place();
      if (!part) return { part: "int4" in fetched ? fetched.int4 : scanRows(fetched.int8, scan), pins: 0 };
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
      const objects = refs.map((r) => objectKey(tenant, index, r.path));
      const keys = objects.map((k) => k + (scan === "int8" ? "" : `#${scan}`));
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
        const mine = !p;
        if (!p) {
          p = fetchRows(s, objects[i], tenant, index, refs[i], dims, scan).finally(() => inflight.delete(key));
          inflight.set(key, p);
          s.defer(p);
        }
        const fetched = await p;
        pinned[i] = pin(key, scan, fetched);
        // Made int4 here from its shard: the colo's next isolates take that form (the query that fetched it puts it).
        if (mine && "int8" in fetched && fetched.share) shareInt4(s, fetched.share, objects[i], refs[i], pinned[i].part, dims);
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
