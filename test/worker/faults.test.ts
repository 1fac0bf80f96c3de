// Fault injection (issue #13): the worker over an R2 binding that fails, delays and cuts short reads at seeded rates
// (faulty-r2.ts). Every answer must be the fault-free answer of the version it names, or a coded 503: never a 500,
// never a wrong or partial result; and once the faults stop, every answer comes back. Each case uses its own index
// names: the registry and caches are isolate state shared by every test file (isolate: false).
import { beforeAll, describe, expect, it } from "vitest";
import { callWorker, faultyBucket, type FaultyBucket } from "./faulty-r2";
import { FIXTURE_INDEX, createKey, fixtureExpectations, publishBuildDir, putManifestAndPointer, repoFile } from "./helpers";

const TENANT = "faults";
const IVF_INDEX = "test/.cache/mini-ivf";
const FAULTS = { fail: 0.2, truncate: 0.1, delayMs: 4 };
let key: string;
let requests: Array<{ query: string; mode: string; k: number }>;

interface Answer {
  status: number;
  code?: string;
  /** What must equal the fault-free answer: version, mode and every result (id, scores, title, text, metadata). */
  answer?: { version: string; mode: string; results: unknown[] };
}

beforeAll(async () => {
  key = await createKey(TENANT);
  const { queries } = await fixtureExpectations();
  requests = queries.slice(0, 6).flatMap((q) => ["dense", "lexical", "hybrid"].map((mode) => ({ query: q.text, mode, k: 10 })));
});

async function ask(f: FaultyBucket, index: string, body: object): Promise<Answer> {
  const res = await callWorker(f.bucket, new Request(`http://worker/v1/tenants/${TENANT}/indexes/${index}/search`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  }));
  const b = (await res.json()) as any;
  if (res.status !== 200) return { status: res.status, code: b.error?.code };
  return { status: 200, answer: { version: b.version, mode: b.mode, results: b.results } };
}

/** The fault-free answers of `requests` from an index of their own (nothing of them is cached for the others). */
async function reference(index: string, reqs = requests): Promise<Map<string, Answer["answer"]>> {
  const f = faultyBucket();
  const out = new Map<string, Answer["answer"]>();
  for (const r of reqs) {
    const a = await ask(f, index, r);
    expect(a.status, JSON.stringify(a)).toBe(200);
    out.set(JSON.stringify(r), a.answer);
  }
  return out;
}

/** Every answer is one of `refs`' answers to the same request (by the version it names), or a coded 503. */
function expectGoodOr503(a: Answer, r: object, refs: Array<Map<string, Answer["answer"]>>): void {
  if (a.status === 200) {
    const want = refs.map((m) => m.get(JSON.stringify(r))).find((w) => w?.version === a.answer!.version);
    expect(want, `an answer of version ${a.answer!.version}, which no reference has`).toBeDefined();
    expect(a.answer).toEqual(want);
  } else {
    expect([a.status, a.code]).toEqual([503, "index_unavailable"]);
  }
}

async function publishCopy(dir: string, index: string) {
  return publishBuildDir(dir, TENANT, index);
}

describe("a good version cached, then faults", () => {
  it.each([
    ["flat", FIXTURE_INDEX, ["dense", "lexical", "hybrid"]],
    ["partitioned", IVF_INDEX, ["dense", "hybrid"]],
  ])("%s: every answer is the fault-free one or a coded 503; all of them come back when the faults stop", async (name, dir, modes) => {
    const reqs = requests.filter((r) => modes.includes(r.mode));
    await publishCopy(dir, `${name}-ref`);
    const refs = await reference(`${name}-ref`, reqs);
    await publishCopy(dir, `${name}-a`);
    const f = faultyBucket({}, 7);
    expect((await ask(f, `${name}-a`, reqs[0])).status).toBe(200); // the version loads, fault-free

    f.set(FAULTS);
    const seen = { ok: 0, unavailable: 0 };
    for (let round = 0; round < 2; round++) {
      for (const r of reqs) {
        const a = await ask(f, `${name}-a`, r);
        expectGoodOr503(a, r, [refs]);
        a.status === 200 ? seen.ok++ : seen.unavailable++;
      }
    }
    expect(f.log.failed + f.log.truncated).toBeGreaterThan(0);
    expect(seen.ok).toBeGreaterThan(0);

    f.set({});
    for (const r of reqs) expect(await ask(f, `${name}-a`, r)).toEqual({ status: 200, answer: refs.get(JSON.stringify(r)) });
  });
});

describe("an index first loaded under faults", () => {
  it("every answer is the fault-free one or a coded 503", async () => {
    await publishCopy(FIXTURE_INDEX, "b-ref");
    const refs = await reference("b-ref");
    await publishCopy(FIXTURE_INDEX, "b");
    const f = faultyBucket(FAULTS, 11);
    for (const r of requests) expectGoodOr503(await ask(f, "b", r), r, [refs]);
    expect(f.log.failed + f.log.truncated).toBeGreaterThan(0);
  });

  // A load that failed for a transient reason (an R2 error, a short body) is tried again after LOAD_RETRY_MS.
  it("serves once the faults stop (a failed load is tried again: LOAD_RETRY_MS is 0 in the tests)", async () => {
    await publishCopy(FIXTURE_INDEX, "c-ref");
    const refs = await reference("c-ref");
    await publishCopy(FIXTURE_INDEX, "c");
    // The pointer reads, every object read fails: the first load fails.
    const f = faultyBucket({ fail: 1 }, 13, (k) => k.includes("/objects/"));
    expect(await ask(f, "c", requests[0])).toEqual({ status: 503, code: "index_unavailable" });
    f.set({});
    for (const r of requests) expect(await ask(f, "c", r)).toEqual({ status: 200, answer: refs.get(JSON.stringify(r)) });
  });
});

describe("API keys while R2 fails", () => {
  it("cannot be checked: 503 storage_unavailable with Retry-After, never 401 or 500; checked again once R2 answers", async () => {
    const f = faultyBucket({ fail: 1 }, 17, (k) => k.includes("/keys/"));
    const fresh = await createKey(TENANT); // a key this isolate has not cached yet
    const call = () => callWorker(f.bucket, new Request(`http://worker/v1/tenants/${TENANT}/indexes/nothing-here/search`, {
      method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${fresh}` }, body: JSON.stringify({ query: "q" }),
    }));
    const res = await call();
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(((await res.json()) as any).error.code).toBe("storage_unavailable");
    f.set({});
    const ok = await call();
    expect([ok.status, ((await ok.json()) as any).error.code]).toEqual([404, "index_not_found"]); // the key was accepted
  });
});

describe("a version published while reads fail", () => {
  /** v2: the same objects, another manifest (another id, so another version), published as `index`. */
  async function publishV2(index: string, manifest: any): Promise<string> {
    return putManifestAndPointer(TENANT, index, new TextEncoder().encode(JSON.stringify({ ...manifest, id: `${manifest.id}-v2` })));
  }

  it("answers are the old or the new version's fault-free ones, or a coded 503", async () => {
    const { manifest } = await publishCopy(FIXTURE_INDEX, "d-ref1");
    await publishCopy(FIXTURE_INDEX, "d-ref2");
    await publishV2("d-ref2", manifest);
    const refs = [await reference("d-ref1"), await reference("d-ref2")];
    await publishCopy(FIXTURE_INDEX, "d");
    const f = faultyBucket({}, 17);
    expect((await ask(f, "d", requests[0])).status).toBe(200);
    f.set(FAULTS);
    await publishV2("d", manifest);
    for (const r of requests) expectGoodOr503(await ask(f, "d", r), r, refs);
  });

  // Defect 3 again: v2's manifest read failed once, so v2 is never loaded and v1 serves until the next publish.
  it("the new version serves once the faults stop", async () => {
    const { manifest } = await publishCopy(FIXTURE_INDEX, "e-ref");
    await publishV2("e-ref", manifest);
    const refs = await reference("e-ref");
    await publishCopy(FIXTURE_INDEX, "e");
    const f = faultyBucket({}, 19, (k) => k.includes("/manifests/"));
    expect((await ask(f, "e", requests[0])).status).toBe(200);
    f.set({ fail: 1 });
    const v2 = await publishV2("e", manifest);
    const during = await ask(f, "e", requests[0]);
    expect(during.status).toBe(200); // v1 still serves
    expect(during.answer!.version).not.toBe(v2);
    f.set({});
    for (const r of requests) expect(await ask(f, "e", r)).toEqual({ status: 200, answer: refs.get(JSON.stringify(r)) });
  });
});
