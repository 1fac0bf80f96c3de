// `i3 publish` against a real S3 endpoint: moto in server mode on 127.0.0.1 (no mocks).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/format/checksum.ts";
import { manifestKey, objectKey, pointerKey } from "../../../src/format/r2-keys.ts";
import { parsePointer } from "../../../src/format/pointer.ts";
import { writeFakeBuild, type FakeBuild } from "../../helpers/fake-build.ts";
import {
  createS3Target,
  isPublishError,
  listVersions,
  publishIndex,
  readPointer,
  rollback,
  runPublishCommand,
  type PublishTarget,
} from "../../../offline/publish/index.ts";
import { startS3Server, type S3Server } from "../../helpers/s3-server.ts";

const TENANT = "demo";
const INDEX = "scifact";


/** Wraps a target and records every PUT key in order; `beforePut` may delay or fail a PUT. */
function recording(target: PublishTarget, beforePut?: (key: string) => Promise<void> | void) {
  const puts: string[] = [];
  const wrapped: PublishTarget = {
    ...target,
    describe: target.describe,
    head: (k) => target.head(k),
    get: (k) => target.get(k),
    list: (p) => target.list(p),
    delete: (k) => target.delete(k),
    async put(key, bytes, opts) {
      await beforePut?.(key);
      const r = await target.put(key, bytes, opts);
      puts.push(key);
      return r;
    },
  };
  return { target: wrapped, puts };
}

async function listAll(target: PublishTarget, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of target.list(prefix)) keys.push(k);
  return keys.sort();
}

let s3: S3Server;
let work: string;
let bucketNo = 0;

/** A fresh bucket per test, so tests do not see each other's keys. */
async function freshTarget(extra: { listPageSize?: number } = {}) {
  const bucket = `i3-test-${++bucketNo}`;
  await s3.createBucket(bucket);
  const target = createS3Target({ endpoint: s3.endpoint, bucket, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, retryBaseMs: 5, ...extra });
  return { bucket, target };
}

async function newBuild(): Promise<FakeBuild> {
  return writeFakeBuild(await mkdtemp(path.join(work, "build-")), { id: INDEX });
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "i3-publish-s3-"));
  s3 = await startS3Server();
});

afterAll(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("s3 target (moto)", () => {
  it("honours If-None-Match: * and If-Match, and maps failures to precondition_failed", async () => {
    const { target } = await freshTarget();
    const bytes = new TextEncoder().encode("one");
    const { etag } = await target.put("k", bytes, { ifNoneMatch: "*" });
    expect(etag).toMatch(/[0-9a-f]{32}/);
    expect((await target.head("k"))?.size).toBe(3);

    await expect(target.put("k", bytes, { ifNoneMatch: "*" })).rejects.toMatchObject({ code: "precondition_failed" });
    await expect(target.put("k", bytes, { ifMatch: '"0000"' })).rejects.toMatchObject({ code: "precondition_failed" });
    await expect(target.put("missing", bytes, { ifMatch: etag })).rejects.toMatchObject({ code: "precondition_failed" });
    const two = await target.put("k", new TextEncoder().encode("two"), { ifMatch: etag });
    expect(new TextDecoder().decode((await target.get("k"))!.bytes)).toBe("two");
    expect((await target.get("k"))!.etag).toBe(two.etag);
    expect(await target.head("nope")).toBeNull();
    expect(await target.get("nope")).toBeNull();
  });

  it("lists across ListObjectsV2 pages", async () => {
    const { target } = await freshTarget({ listPageSize: 2 });
    const keys = ["p/a", "p/b", "p/c", "p/d", "p/e", "q/x"];
    for (const k of keys) await target.put(k, new Uint8Array([1]));
    expect(await listAll(target, "p/")).toEqual(["p/a", "p/b", "p/c", "p/d", "p/e"]);
    await target.delete("p/c");
    expect(await listAll(target, "p/")).toEqual(["p/a", "p/b", "p/d", "p/e"]);
  });

  it("retries network errors, then fails with code network", async () => {
    const target = createS3Target({ endpoint: "http://127.0.0.1:1", bucket: "b", accessKeyId: "x", secretAccessKey: "y", attempts: 3, retryBaseMs: 1 });
    const err = await target.head("k").catch((e) => e);
    expect(isPublishError(err, "network")).toBe(true);
    expect(err.message).toMatch(/after 3 attempts/);
  });
});

describe("publishIndex to s3 (moto)", () => {
  it("uploads every object, then the manifest, then the pointer last", async () => {
    const { target: raw } = await freshTarget();
    const build = await newBuild();
    const { target, puts } = recording(raw);
    const lines: string[] = [];
    const r = await publishIndex({ buildDir: build.dir, tenant: TENANT, index: INDEX, target, log: (l) => lines.push(l) });

    expect(r).toMatchObject({ version: build.version, uploaded: 4, skipped: 0, previousVersion: null, pointerMoved: true });
    expect(r.uploadedBytes).toBe([...build.files.values()].reduce((n, b) => n + b.byteLength, 0));
    for (const [p, bytes] of build.files) {
      expect((await raw.get(objectKey(TENANT, INDEX, p)))!.bytes).toEqual(bytes);
    }
    const mKey = manifestKey(TENANT, INDEX, build.version);
    expect((await raw.get(mKey))!.bytes).toEqual(build.manifestBytes);
    const pointer = parsePointer(JSON.parse(new TextDecoder().decode((await raw.get(pointerKey(TENANT, INDEX)))!.bytes)), { tenant: TENANT, index: INDEX });
    expect(pointer).toMatchObject({ version: build.version, manifest: mKey, sha256: await sha256Hex(build.manifestBytes) });

    // order: 4 objects (any order), then the manifest, then the pointer, and nothing else
    expect(puts).toHaveLength(6);
    expect(puts.slice(0, 4).sort()).toEqual([...build.files.keys()].map((p) => objectKey(TENANT, INDEX, p)).sort());
    expect(puts[4]).toBe(mKey);
    expect(puts[5]).toBe(pointerKey(TENANT, INDEX));
    expect(await listAll(raw, "")).toEqual([...puts].sort());
    expect(lines.join("\n")).toMatch(/pointer .*current: \(none\) -> [0-9a-f]{16}/);
  });

  it("resumes an interrupted publish: objects already there are skipped", async () => {
    const { target: raw } = await freshTarget();
    const build = await newBuild();
    let n = 0;
    const { target: flaky } = recording(raw, () => {
      if (++n > 2) throw new Error("simulated crash after 2 uploads");
    });
    await expect(publishIndex({ buildDir: build.dir, tenant: TENANT, index: INDEX, target: flaky, concurrency: 1 })).rejects.toThrow(/simulated crash/);
    expect(await raw.get(pointerKey(TENANT, INDEX))).toBeNull();
    expect(await listAll(raw, "")).toHaveLength(2);

    const { target, puts } = recording(raw);
    const r = await publishIndex({ buildDir: build.dir, tenant: TENANT, index: INDEX, target });
    expect(r).toMatchObject({ version: build.version, uploaded: 2, skipped: 2, pointerMoved: true });
    expect(puts.at(-1)).toBe(pointerKey(TENANT, INDEX));

    // publishing the same build again writes nothing at all
    const again = recording(raw);
    const r2 = await publishIndex({ buildDir: build.dir, tenant: TENANT, index: INDEX, target: again.target });
    expect(r2).toMatchObject({ uploaded: 0, skipped: 4, pointerMoved: false, previousVersion: build.version });
    expect(again.puts).toEqual([]);
  });

  it("refuses a corrupted build and uploads nothing", async () => {
    const { target } = await freshTarget();
    const build = await newBuild();
    const [victim, bytes] = [...build.files][2];
    const bad = Uint8Array.from(bytes);
    bad[0] ^= 0xff; // same size, wrong sha256
    await writeFile(path.join(build.dir, victim), bad);
    const err = await publishIndex({ buildDir: build.dir, tenant: TENANT, index: INDEX, target }).catch((e) => e);
    expect(isPublishError(err, "invalid_build")).toBe(true);
    expect(err.message).toContain(victim);
    expect(err.message).toMatch(/expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/);
    expect(await listAll(target, "")).toEqual([]);

    await rm(path.join(build.dir, victim));
    await expect(publishIndex({ buildDir: build.dir, tenant: TENANT, index: INDEX, target })).rejects.toThrow(/missing/);
    await rm(path.join(build.dir, "manifest.json"));
    await expect(publishIndex({ buildDir: build.dir, tenant: TENANT, index: INDEX, target })).rejects.toThrow(/manifest\.json: not found/);
    expect(await listAll(target, "")).toEqual([]);
  });

  it("two publishes from the same pointer etag: exactly one moves the pointer, the other gets conflict", async () => {
    for (const firstPublish of [false, true]) {
      const { target: raw } = await freshTarget();
      if (firstPublish) await publishIndex({ buildDir: (await newBuild()).dir, tenant: TENANT, index: INDEX, target: raw });
      const before = await readPointer(raw, TENANT, INDEX);
      const [a, b] = [await newBuild(), await newBuild()];

      // Both publishes read the pointer before either writes it; the pointer PUTs then go one after the other
      // (moto checks a condition and writes without a lock, so truly simultaneous PUTs are R2's job, not a test's).
      const pKey = pointerKey(TENANT, INDEX);
      let arrived = 0;
      let releaseAll!: () => void;
      const bothArrived = new Promise<void>((r) => (releaseAll = r));
      let turn = Promise.resolve();
      const gate = (key: string) => {
        if (key !== pKey) return;
        if (++arrived === 2) releaseAll();
        const mine = turn.then(() => bothArrived);
        turn = mine.then(() => new Promise((r) => setTimeout(r, 50)));
        return mine;
      };
      const results = await Promise.allSettled([
        publishIndex({ buildDir: a.dir, tenant: TENANT, index: INDEX, target: recording(raw, gate).target }),
        publishIndex({ buildDir: b.dir, tenant: TENANT, index: INDEX, target: recording(raw, gate).target }),
      ]);
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(isPublishError(lost[0].reason, "conflict")).toBe(true);
      expect(lost[0].reason.message).toMatch(/another publish or rollback won the race/);

      const winner = (won[0] as PromiseFulfilledResult<{ version: string; previousVersion: string | null }>).value;
      expect(winner.previousVersion).toBe(before?.pointer?.version ?? null);
      expect((await readPointer(raw, TENANT, INDEX))!.pointer!.version).toBe(winner.version);
      // the loser's manifest is uploaded (nothing is deleted), just not current
      for (const v of [a.version, b.version]) expect(await raw.head(manifestKey(TENANT, INDEX, v))).not.toBeNull();
    }
  });

  it("lists versions and rolls back with a conditional pointer move", async () => {
    const { target } = await freshTarget();
    const a = await newBuild();
    const b = await newBuild();
    await publishIndex({ buildDir: a.dir, tenant: TENANT, index: INDEX, target });
    await publishIndex({ buildDir: b.dir, tenant: TENANT, index: INDEX, target });

    const versions = await listVersions(target, TENANT, INDEX);
    expect(versions.map((v) => v.version).sort()).toEqual([a.version, b.version].sort());
    const current = versions.find((v) => v.current)!;
    expect(current.version).toBe(b.version);
    expect(current.publishedAt).toMatch(/^\d{4}-/);
    expect(versions.every((v) => typeof v.createdAt === "string")).toBe(true);

    expect(await rollback(target, TENANT, INDEX, a.version)).toEqual({ from: b.version, to: a.version });
    expect((await readPointer(target, TENANT, INDEX))!.pointer!.version).toBe(a.version);
    await expect(rollback(target, TENANT, INDEX, "0123456789abcdef")).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("runPublishCommand --to s3 (moto)", () => {
  it("publishes and prints what happened; bad usage and missing env exit 2", async () => {
    const { bucket } = await freshTarget();
    const build = await newBuild();
    const env = { R2_ENDPOINT: s3.endpoint, R2_BUCKET: bucket, R2_ACCESS_KEY_ID: s3.accessKeyId, R2_SECRET_ACCESS_KEY: s3.secretAccessKey };
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env };
    const args = [build.dir, "--tenant", TENANT, "--index", INDEX, "--to", "s3"];

    expect(await runPublishCommand(["publish", ...args], io)).toBe(0);
    expect(out.at(-1)).toMatch(new RegExp(`published demo/scifact version ${build.version} .*uploaded 4 objects, \\d+ bytes.*pointer moved \\(none\\) -> ${build.version}`));
    expect(await runPublishCommand(args, io)).toBe(0);
    expect(out.at(-1)).toMatch(/uploaded 0 objects, 0 bytes; skipped 4 .*pointer already at/);

    err.length = 0;
    expect(await runPublishCommand(args, { ...io, env: { R2_BUCKET: bucket } })).toBe(2);
    expect(err.join("\n")).toMatch(/R2_ENDPOINT \(or S3_ENDPOINT\), R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY/);
    expect(await runPublishCommand([build.dir, "--tenant", TENANT, "--to", "s3"], io)).toBe(2);
    expect(await runPublishCommand([build.dir, "--tenant", TENANT, "--index", INDEX, "--to", "gcs"], io)).toBe(2);
    expect(await runPublishCommand([path.join(work, "nope"), "--tenant", TENANT, "--index", INDEX, "--to", "s3"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/build directory .*nope not found/);
    expect(await runPublishCommand([build.dir, "--tenant", "Bad Name", "--index", INDEX, "--to", "s3"], io)).toBe(2);
    expect(await runPublishCommand([work, "--tenant", TENANT, "--index", INDEX, "--to", "s3"], io)).toBe(1);
    expect(err.at(-1)).toMatch(/invalid_build: .*manifest\.json: not found/);
  });
});
