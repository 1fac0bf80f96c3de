// A new isolate in a warm colo starts without R2 round trips for the pointer and the manifest: the pointer as the
// colo last read it from R2 (while under POINTER_TTL_MS old) and the manifest (immutable) from the colo's cache.
// Two registries stand for two isolates; they share the test runtime's colo cache (caches.default).
import { describe, expect, it } from "vitest";
import { manifestKey, pointerKey } from "../../src/format";
import { onnxruntimeWeb } from "../../src/worker/encoder/ort-web";
import { createRegistry } from "../../src/worker/store/registry";
import { CONNECTIONS, slots, type Storage } from "../../src/worker/store/storage";
import { FIXTURE_INDEX, bucket, publishBuildDir } from "./helpers";
import { publishManifest } from "./variants";

const MB = 1 << 20;

/** A request's storage with the colo cache, its deferred work awaited by `settle`. */
function storage(reads: string[]) {
  const deferred: Array<Promise<unknown>> = [];
  const counting = new Proxy(bucket, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== "get") return typeof v === "function" ? v.bind(target) : v;
      return (key: string, o?: R2GetOptions) => {
        reads.push(key);
        return target.get(key, o);
      };
    },
  });
  const s: Storage = { bucket: counting, slot: slots(CONNECTIONS), colo: caches.default, defer: (p) => deferred.push(p), stats: { r2: 0, colo: 0, pointer: 0 } };
  // Until nothing is left: deferred work defers more (the query model, loaded after the version serves, puts its bytes
  // in the colo cache once it has read them).
  const settle = async () => {
    while (deferred.length) await Promise.all(deferred.splice(0));
  };
  return { s, settle };
}

describe("pointer and manifest through the colo cache", () => {
  it("a second isolate reads neither from R2 while the first's read is fresh; a publish shows once it is POINTER_TTL_MS old", async () => {
    const v1 = await publishBuildDir(FIXTURE_INDEX, "colo", "pointer");
    let t = 1_000_000;
    const ttl = 10_000;
    const pointer = pointerKey("colo", "pointer");
    const first: string[] = [];
    const a = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: ttl, cacheBudgetBytes: 64 * MB, now: () => t });
    const sa = storage(first);
    expect((await a.get(sa.s, "colo", "pointer")).version).toBe(v1.version);
    await sa.settle();
    expect(first).toContain(pointer);
    expect(first).toContain(manifestKey("colo", "pointer", v1.version));

    t += 4_000;
    const second: string[] = [];
    const b = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: ttl, cacheBudgetBytes: 64 * MB, now: () => t });
    const sb = storage(second);
    expect((await b.get(sb.s, "colo", "pointer")).version).toBe(v1.version);
    await sb.settle();
    expect(second).toEqual([]); // pointer, manifest and every object from the colo
    expect(sb.s.stats.pointer).toBe(0);

    // A new version: isolate b took the colo's pointer read at t - 4 s, so it re-reads R2 6 s later, not 10.
    const v2 = await publishManifest("colo", "pointer", { ...v1.manifest, id: "v2" });
    t += 5_999;
    const early: string[] = [];
    const s1 = storage(early);
    expect((await b.get(s1.s, "colo", "pointer")).version).toBe(v1.version);
    await s1.settle();
    expect(early).not.toContain(pointer);
    t += 1;
    const late: string[] = [];
    const s2 = storage(late);
    await b.get(s2.s, "colo", "pointer"); // the refresh runs after this answer
    await s2.settle();
    expect(late).toContain(pointer);
    expect((await b.get(storage([]).s, "colo", "pointer")).version).toBe(v2);
  });

  it("with POINTER_TTL_MS 0 every request reads the pointer from R2", async () => {
    await publishBuildDir(FIXTURE_INDEX, "colo", "ttl0");
    const reg = createRegistry({ onnxruntime: onnxruntimeWeb, pointerTtlMs: 0, cacheBudgetBytes: 64 * MB });
    for (let i = 0; i < 2; i++) {
      const reads: string[] = [];
      const st = storage(reads);
      await reg.get(st.s, "colo", "ttl0");
      await st.settle();
      expect(reads).toContain(pointerKey("colo", "ttl0"));
    }
  });
});
