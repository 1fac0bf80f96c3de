// The int4 form of a partition through the colo cache (src/worker/store/partitions.ts, src/format/int4-partition.ts):
// where the deployment has a COLO_SHARE_SECRET, an index scanned int4 has its partitions' int4 rows put in the colo,
// under the secret's namespace, the header sealed, by the isolate that made them from the verified int8 shards; a new
// isolate of that deployment reads the int4 form (half the bytes) and holds the same rows bit for bit. Without the
// secret nothing is shared; an entry another deployment put, or one whose header was altered or that was moved to
// another shard's URL, is passed over for the shard.
import { beforeAll, describe, expect, it } from "vitest";
import { crc32, INT4_PARTITION_SUFFIX, objectKey } from "../../src/format";
import { INT4_ROWS_VERSION } from "../../src/search/kernels";
import type { IvfPartition } from "../../src/search/ivf";
import { coloSeal } from "../../src/worker/store/colo-seal";
import { scanOf } from "../../src/worker/store/loaded-index";
import { onnxruntimeWeb } from "../../src/worker/encoder/ort-web";
import { createRegistry, type IndexRegistry } from "../../src/worker/store/registry";
import { CONNECTIONS, coloKey, slots, type Storage } from "../../src/worker/store/storage";
import { bucket, publishBuildDir } from "./helpers";

const TENANT = "colo4";
const SECRET = "int4-colo-test-secret-0123456789abcdef";
const OTHER = "int4-colo-test-other-deployment-0123456789";

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
function storage(asked: string[], deferred: Array<Promise<unknown>>, secret?: string): Storage {
  return {
    bucket, slot: slots(CONNECTIONS), colo: recordingColo(asked), defer: (p) => deferred.push(p), stats: { r2: 0, colo: 0, pointer: 0 },
    ...(secret ? { coloSecret: secret } : {}),
  };
}

const isolate = () => createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 << 20 });

/** Every partition of the index as a new isolate holds it for an int4 scan (rows, scales, ordinals), and what it read. */
async function int4Rows(index: string, secret?: string): Promise<{ rows: Uint8Array[]; stats: Storage["stats"]; asked: string[] }> {
  const reg: IndexRegistry = isolate();
  const asked: string[] = [];
  const deferred: Array<Promise<unknown>> = [];
  const s = storage(asked, deferred, secret);
  const m = (await reg.get(s, TENANT, index)).manifest;
  s.stats = { r2: 0, colo: 0, pointer: 0 };
  asked.length = 0;
  const { parts, pins } = await reg.partitions.acquire(s, TENANT, index, m.partitions.map((p) => p.shards[0]), m.vectors.dim, "int4");
  const copy = (a: ArrayBufferView) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const rows = parts.map((p: IvfPartition) => {
    const { arena } = reg.partitions.kernels;
    const packed = p.block4 ? arena.u8At(p.block4.packed, (p.count * m.vectors.dim) / 2) : p.packed!;
    const scales = p.block4 ? arena.f32At(p.block4.scales, p.count) : p.scales!;
    return new Uint8Array([...copy(packed), ...copy(scales), ...copy(p.ordinals)]);
  });
  reg.partitions.release(pins);
  await Promise.all(deferred);
  return { rows, stats: s.stats, asked: [...asked] };
}

let manifest: { partitions: Array<{ shards: Array<{ path: string }> }> };
const shardUrls = (index: string) => manifest.partitions.map((p) => coloKey(objectKey(TENANT, index, p.shards[0].path)));
async function int4Urls(index: string, secret: string): Promise<string[]> {
  const { namespace } = await coloSeal(secret);
  return manifest.partitions.map((p) => coloKey(`int4/${namespace}/${objectKey(TENANT, index, p.shards[0].path)}${INT4_PARTITION_SUFFIX}.r${INT4_ROWS_VERSION}`));
}

beforeAll(async () => {
  for (const index of ["shared", "plain", "broken"]) ({ manifest } = await publishBuildDir("test/.cache/mini-ivf-int4", TENANT, index));
});

describe("int4 partitions through the colo cache", () => {
  it("a new isolate of the deployment reads the sealed int4 form the first one put, and holds the same rows", async () => {
    const a = await int4Rows("shared", SECRET);
    expect(a.stats.r2).toBe(manifest.partitions.length); // the int8 shards, from R2 (then verified)
    const urls = await int4Urls("shared", SECRET);
    for (const u of urls) expect((await caches.default.match(u))?.headers.get("x-i3-seal"), u).toMatch(/^[0-9a-f]{64}$/);

    const b = await int4Rows("shared", SECRET);
    expect(b.stats).toEqual({ r2: 0, colo: manifest.partitions.length, pointer: 0 });
    expect(b.asked.filter((u) => urls.includes(u))).toHaveLength(urls.length);
    expect(b.asked.filter((u) => shardUrls("shared").includes(u))).toEqual([]); // no int8 shard read
    expect(b.rows).toEqual(a.rows);

    // Another deployment (another secret) neither finds nor takes them: it reads the shards, and gets the same rows.
    const other = await int4Rows("shared", OTHER);
    expect(other.asked.filter((u) => urls.includes(u))).toEqual([]);
    expect(other.asked.filter((u) => shardUrls("shared").includes(u))).toHaveLength(manifest.partitions.length);
    expect(other.rows).toEqual(a.rows);
  });

  it("shares nothing without a COLO_SHARE_SECRET: each isolate reads the shards", async () => {
    const a = await int4Rows("plain");
    const b = await int4Rows("plain");
    expect(b.asked.filter((u) => u.includes("/int4/") || u.includes(INT4_PARTITION_SUFFIX))).toEqual([]);
    expect(b.asked.filter((u) => shardUrls("plain").includes(u))).toHaveLength(manifest.partitions.length);
    expect(b.rows).toEqual(a.rows);
  });

  it("passes over an int4 form whose header was altered, one moved to another shard's URL, or one unsealed, and reads the shard", async () => {
    const good = await int4Rows("broken", SECRET);
    const urls = await int4Urls("broken", SECRET);
    const entry = async (i: number) => (await caches.default.match(urls[i]))!;
    const put = (i: number, body: Uint8Array, seal: string | null) =>
      caches.default.put(urls[i], new Response(body, { headers: { "cache-control": "public, max-age=3600", ...(seal ? { "x-i3-seal": seal } : {}) } }));
    const [e0, e1] = [await entry(0), await entry(1)];
    const [b0, s0, b1, s1] = [new Uint8Array(await e0.arrayBuffer()), e0.headers.get("x-i3-seal")!, new Uint8Array(await e1.arrayBuffer()), e1.headers.get("x-i3-seal")!];
    // Its header made to name another shard (CRC stamped again): the seal, over the URL and the header, no longer holds.
    const altered = b0.slice();
    altered[24] ^= 1;
    new DataView(altered.buffer).setUint32(60, crc32(altered.subarray(0, 60)), true);
    await put(0, altered, s0);
    await put(1, b0, s0); // partition 0's form and seal at partition 1's URL
    await put(2, b1, null); // no seal
    void s1;

    const again = await int4Rows("broken", SECRET);
    expect(again.rows).toEqual(good.rows);
    for (const i of [0, 1, 2]) expect(again.asked).toContain(shardUrls("broken")[i]); // the shard, after its int4 form
    // ... and each put again, sealed: a next isolate reads it.
    expect(new Uint8Array(await (await entry(0)).arrayBuffer())).toEqual(b0);
    expect((await entry(1)).headers.get("x-i3-seal")).toBe(s1);
  });

  it("scans int4 where the plan chose it and its rows stay resident or the colo shares them; int8 otherwise", () => {
    const index = (partitions: number, scan?: "int4") =>
      ({ vectors: { dim: 512 }, partitions: Array.from({ length: partitions }, () => ({ shards: [{ count: 1024 }] })), search: { ...(scan ? { scan } : {}) } }) as never;
    const kernels = 24 << 20; // int4 rows of 1,024 passages: 266,240 bytes a partition
    expect(scanOf(index(100, "int4"), kernels, false)).toBe("int4"); // 26.6 MB: within 1.25 x 24 MB
    expect(scanOf(index(977, "int4"), kernels, false)).toBe("int8"); // 260 MB: each isolate would convert what it reads
    expect(scanOf(index(977, "int4"), kernels, true)).toBe("int4"); // the colo holds them converted
    expect(scanOf(index(977), kernels, true)).toBe("int8"); // the plan's int8
  });
});

