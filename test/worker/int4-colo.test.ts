// The int4 form of a partition through the colo cache (src/worker/store/partitions.ts, src/format/int4-partition.ts):
// an index scanned int4 has its partitions' int4 rows put in the colo by the isolate that made them from the verified
// int8 shards; a new isolate of that colo reads the int4 form (half the bytes) and gets the same rows bit for bit; an
// int4 form that is not this shard's is passed over for the shard.
import { beforeAll, describe, expect, it } from "vitest";
import { INT4_PARTITION_SUFFIX, objectKey } from "../../src/format";
import type { IvfPartition } from "../../src/search/ivf";
import { createRegistry, type IndexRegistry } from "../../src/worker/store/registry";
import { CONNECTIONS, coloKey, slots, type Storage } from "../../src/worker/store/storage";
import { bucket, publishBuildDir } from "./helpers";

const TENANT = "colo4";

/** The test runtime's colo cache, with the URLs asked of it recorded. */
function recordingColo(asked: string[]): Cache {
  const colo = caches.default;
  return {
    match: (req: RequestInfo | URL) => (asked.push(String(req instanceof Request ? req.url : req)), colo.match(req)),
    put: (req: RequestInfo | URL, res: Response) => colo.put(req, res),
    delete: (req: RequestInfo | URL) => colo.delete(req),
  } as Cache;
}

/** A request's storage over the simulator's bucket and the colo cache; its deferred work (colo puts) kept to await. */
function storage(asked: string[], deferred: Array<Promise<unknown>>): Storage {
  return { bucket, slot: slots(CONNECTIONS), colo: recordingColo(asked), defer: (p) => deferred.push(p), stats: { r2: 0, colo: 0, pointer: 0 } };
}

/** Every partition of the index, as `reg`'s isolate holds it for an int4 scan: the packed rows and scales, copied. */
async function int4Rows(reg: IndexRegistry, index: string, asked: string[]): Promise<{ rows: Uint8Array[]; stats: Storage["stats"] }> {
  const deferred: Array<Promise<unknown>> = [];
  const s = storage(asked, deferred);
  const idx = await reg.get(s, TENANT, index);
  const m = idx.manifest;
  s.stats = { r2: 0, colo: 0, pointer: 0 };
  const { parts, pins } = await reg.partitions.acquire(s, TENANT, index, m.partitions.map((p) => p.shards[0]), m.vectors.dim, "int4");
  const rows = parts.map((p: IvfPartition) => {
    const { arena } = reg.partitions.kernels;
    const packed = p.block4 ? arena.u8At(p.block4.packed, (p.count * m.vectors.dim) / 2) : p.packed!;
    const scales = p.block4 ? arena.f32At(p.block4.scales, p.count) : p.scales!;
    return new Uint8Array([...packed, ...new Uint8Array(scales.buffer.slice(scales.byteOffset, scales.byteOffset + 4 * p.count)), ...new Uint8Array(p.ordinals.buffer.slice(p.ordinals.byteOffset, p.ordinals.byteOffset + 4 * p.count))]);
  });
  reg.partitions.release(pins);
  await Promise.all(deferred);
  return { rows, stats: s.stats };
}

let manifest: { partitions: Array<{ shards: Array<{ path: string }> }> };

beforeAll(async () => {
  ({ manifest } = await publishBuildDir("test/.cache/mini-ivf-int4", TENANT, "shared"));
  await publishBuildDir("test/.cache/mini-ivf-int4", TENANT, "broken");
});

describe("int4 partitions through the colo cache", () => {
  it("a new isolate reads the int4 form the first one put, and holds the same rows", async () => {
    const shardUrls = manifest.partitions.map((p) => coloKey(objectKey(TENANT, "shared", p.shards[0].path)));
    const int4Urls = shardUrls.map((u) => u + INT4_PARTITION_SUFFIX);

    const first: string[] = [];
    const a = await int4Rows(createRegistry({ pointerTtlMs: 0, cacheBudgetBytes: 64 << 20 }), "shared", first);
    expect(a.stats.r2).toBe(manifest.partitions.length); // the int8 shards, from R2 (then verified)
    for (const u of int4Urls) expect(await caches.default.match(u), u).toBeDefined();

    const second: string[] = [];
    const b = await int4Rows(createRegistry({ pointerTtlMs: 0, cacheBudgetBytes: 64 << 20 }), "shared", second);
    expect(b.stats).toEqual({ r2: 0, colo: manifest.partitions.length, pointer: 0 });
    expect(second.filter((u) => int4Urls.includes(u))).toHaveLength(int4Urls.length);
    expect(second.filter((u) => shardUrls.includes(u))).toEqual([]); // no int8 shard read
    expect(b.rows).toEqual(a.rows);
  });

  it("passes over an int4 form that is not the shard's (wrong bytes, or another shard's) and reads the shard", async () => {
    const keys = manifest.partitions.map((p) => objectKey(TENANT, "broken", p.shards[0].path));
    const good = await int4Rows(createRegistry({ pointerTtlMs: 0, cacheBudgetBytes: 64 << 20 }), "broken", []);
    // One entry altered, one swapped for another partition's (other count), one truncated.
    const entry = async (i: number) => new Uint8Array(await (await caches.default.match(coloKey(keys[i] + INT4_PARTITION_SUFFIX)))!.arrayBuffer());
    const put = (i: number, bytes: Uint8Array) => caches.default.put(coloKey(keys[i] + INT4_PARTITION_SUFFIX), new Response(bytes, { headers: { "cache-control": "public, max-age=3600" } }));
    const e0 = await entry(0), e1 = await entry(1);
    const altered = e0.slice();
    altered[9] ^= 1; // the header's dims, under its CRC
    await put(0, altered);
    await put(1, e0.byteLength !== e1.byteLength ? e0 : e0.subarray(0, e0.byteLength - 4));
    await put(2, (await entry(2)).subarray(0, 40));

    const asked: string[] = [];
    const again = await int4Rows(createRegistry({ pointerTtlMs: 0, cacheBudgetBytes: 64 << 20 }), "broken", asked);
    expect(again.rows).toEqual(good.rows);
    for (const i of [0, 1, 2]) expect(asked).toContain(coloKey(keys[i])); // the shard, after its int4 form
    // ... and each put again, whole: a next isolate reads it.
    expect((await entry(0)).byteLength).toBe(e0.byteLength);
    expect(await entry(0)).toEqual(e0);
  });
});
