// `i3 versions | rollback | gc` and `i3 keys` against a real S3 endpoint (moto on 127.0.0.1), through the CLI.
// The race of two publishes (one wins, one `conflict`) is in publish-s3.test.ts.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey, keyMatches, keyRecordKey, parseApiKey, parseKeyRecord } from "../../../src/format/api-key.ts";
import { manifestKey, objectKey } from "../../../src/format/r2-keys.ts";
import { runKeysCommand } from "../../../offline/keys/cli.ts";
import { createS3Target, publishIndex, readPointer, type PublishTarget } from "../../../offline/publish/index.ts";
import { runVersionsCommand } from "../../../offline/publish/versions-cli.ts";
import { writeFakeBuild, type FakeBuild } from "../../helpers/fake-build.ts";
import { startS3Server, type S3Server } from "../../helpers/s3-server.ts";

const BUCKET = "i3-cli";
let s3: S3Server, target: PublishTarget, env: Record<string, string>, tmp: string;

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  target = createS3Target({ endpoint: s3.endpoint, bucket: BUCKET, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: "us-east-1" });
  env = { R2_ENDPOINT: s3.endpoint, R2_BUCKET: BUCKET, R2_ACCESS_KEY_ID: s3.accessKeyId, R2_SECRET_ACCESS_KEY: s3.secretAccessKey, R2_REGION: "us-east-1" };
  tmp = await mkdtemp(path.join(tmpdir(), "i3-cli-"));
});
afterAll(async () => {
  await s3?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function cli(fn: (io: any) => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await fn({ out: (l: string) => out.push(l), err: (l: string) => err.push(l), env, cwd: tmp });
  return { code, out: out.join("\n"), err: err.join("\n") };
}
const versions = (...a: string[]) => cli((io) => runVersionsCommand("versions", ["--to", "s3", ...a], io));
const rollbackCli = (...a: string[]) => cli((io) => runVersionsCommand("rollback", ["--to", "s3", ...a], io));
const gc = (...a: string[]) => cli((io) => runVersionsCommand("gc", ["--to", "s3", ...a], io));
const keys = (...a: string[]) => cli((io) => runKeysCommand([...a, "--to", "s3"], io));

describe("i3 versions / rollback / gc", () => {
  const T = ["--tenant", "acme", "--index", "docs"];
  const builds: FakeBuild[] = [];

  beforeAll(async () => {
    const sharedVocab = new TextEncoder().encode('[["<unk>",0],["shared",-1]]');
    for (let i = 0; i < 3; i++) {
      const b = await writeFakeBuild(path.join(tmp, `v${i}`), { createdAt: `2026-01-0${i + 1}T00:00:00.000Z`, sharedVocab });
      await publishIndex({ buildDir: b.dir, tenant: "acme", index: "docs", target });
      builds.push(b);
    }
  });

  it("lists versions newest first and marks the current one", async () => {
    const r = await versions(...T);
    expect(r.code).toBe(0);
    const lines = r.out.split("\n").slice(1);
    expect(lines.map((l) => l.slice(2, 18))).toEqual([builds[2].version, builds[1].version, builds[0].version]);
    expect(lines[0].startsWith("*")).toBe(true);
    const json = JSON.parse((await versions(...T, "--json")).out);
    expect(json.filter((v: any) => v.current).map((v: any) => v.version)).toEqual([builds[2].version]);
  });

  it("rolls back to an earlier version, and refuses an unknown one (exit 1, pointer untouched)", async () => {
    const r = await rollbackCli(...T, "--to-version", builds[1].version);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`${builds[2].version} -> ${builds[1].version}`);
    expect((await readPointer(target, "acme", "docs"))?.pointer?.version).toBe(builds[1].version);
    const bad = await rollbackCli(...T, "--to-version", "0123456789abcdef");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("not_found");
    expect((await readPointer(target, "acme", "docs"))?.pointer?.version).toBe(builds[1].version);
    expect((await rollbackCli(...T)).code).toBe(2);
  });

  it("gc keeps unreferenced objects younger than the grace period (a publish may still be uploading them)", async () => {
    const dry = await gc(...T, "--keep", "1");
    expect(dry.code).toBe(0);
    expect(dry.out).toContain("would delete 1 manifests and 0 objects");
    expect(dry.out).toContain("3 unreferenced objects younger than 60 min kept");
    expect((await gc(...T, "--keep", "1", "--grace-minutes", "-1")).code).toBe(2);
  });

  it("gc --keep 1 is a dry run without --yes; with it, deletes only what no kept version uses", async () => {
    // current = v1 (rolled back), newest = v2: both kept; v0 goes, except the vocab every version shares.
    const dry = await gc(...T, "--keep", "1", "--grace-minutes", "0");
    expect(dry.code).toBe(0);
    expect(dry.out).toContain("would delete 1 manifests and 3 objects");
    expect(await target.head(manifestKey("acme", "docs", builds[0].version))).not.toBeNull();

    const real = await gc(...T, "--keep", "1", "--grace-minutes", "0", "--yes");
    expect(real.code).toBe(0);
    expect(real.out).toContain("deleted 1 manifests and 3 objects");
    expect(await target.head(manifestKey("acme", "docs", builds[0].version))).toBeNull();
    for (const b of [builds[1], builds[2]]) {
      expect(await target.head(manifestKey("acme", "docs", b.version))).not.toBeNull();
      for (const p of b.paths) expect(await target.head(objectKey("acme", "docs", p)), p).not.toBeNull();
    }
    const shared = builds[0].paths.filter((p) => builds[1].paths.includes(p));
    expect(shared).toHaveLength(1);
    for (const p of builds[0].paths) expect((await target.head(objectKey("acme", "docs", p))) !== null).toBe(shared.includes(p));
    expect((await readPointer(target, "acme", "docs"))?.pointer?.version).toBe(builds[1].version);
    expect((await gc(...T, "--keep", "0")).code).toBe(2);
  });
});

describe("a publish killed midway", () => {
  it("leaves the pointer (what the worker serves) on the old version; rerunning resumes and moves it", async () => {
    const old = await writeFakeBuild(path.join(tmp, "kill-old"));
    await publishIndex({ buildDir: old.dir, tenant: "acme", index: "kill", target });
    const next = await writeFakeBuild(path.join(tmp, "kill-new"));
    let puts = 0;
    const dying: PublishTarget = {
      ...target,
      put: async (key, bytes, opts) => {
        if (++puts > 2) throw new Error("killed");
        return target.put(key, bytes, opts);
      },
    };
    await expect(publishIndex({ buildDir: next.dir, tenant: "acme", index: "kill", target: dying, concurrency: 1 })).rejects.toThrow("killed");
    expect((await readPointer(target, "acme", "kill"))?.pointer?.version).toBe(old.version);
    expect(await target.head(manifestKey("acme", "kill", next.version))).toBeNull();
    const r = await publishIndex({ buildDir: next.dir, tenant: "acme", index: "kill", target });
    expect([r.skipped, r.uploaded, r.previousVersion, r.version]).toEqual([2, 2, old.version, next.version]);
  });
});

describe("a publish racing a gc", () => {
  it("fails with conflict, before writing its manifest, when an object it reused disappears", async () => {
    const sharedVocab = new TextEncoder().encode('[["<unk>",0],["race",-1]]');
    const old = await writeFakeBuild(path.join(tmp, "race-old"), { sharedVocab });
    await publishIndex({ buildDir: old.dir, tenant: "acme", index: "race", target });
    const next = await writeFakeBuild(path.join(tmp, "race-new"), { sharedVocab });
    const shared = next.paths.filter((p) => old.paths.includes(p));
    expect(shared).toHaveLength(1);
    // Objects go up in manifest order (query, vocab, shard, docs), one at a time: the vocab is found and skipped,
    // then a gc deletes it while the shard uploads.
    let puts = 0;
    const racing: PublishTarget = {
      ...target,
      put: async (key, bytes, opts) => {
        if (++puts === 2) await target.delete(objectKey("acme", "race", shared[0]));
        return target.put(key, bytes, opts);
      },
    };
    const e = await publishIndex({ buildDir: next.dir, tenant: "acme", index: "race", target: racing, concurrency: 1 }).catch((x) => x);
    expect(e).toMatchObject({ name: "PublishError", code: "conflict" });
    expect(await target.head(manifestKey("acme", "race", next.version))).toBeNull();
    expect((await readPointer(target, "acme", "race"))?.pointer?.version).toBe(old.version);
    const r = await publishIndex({ buildDir: next.dir, tenant: "acme", index: "race", target }); // rerun: uploads it again
    expect(r.version).toBe(next.version);
    expect(await target.head(objectKey("acme", "race", shared[0]))).not.toBeNull();
  });
});

describe("i3 keys", () => {
  it("creates a key shown once and stored as a hash, lists it, revokes it", async () => {
    const c = await keys("create", "--tenant", "acme", "--roles", "search,publish", "--rps", "5", "--max-k", "20", "--json");
    expect(c.code).toBe(0);
    const { key, id } = JSON.parse(c.out);
    expect(parseApiKey(key)).toEqual({ tenant: "acme", keyId: id });
    const stored = await target.get(keyRecordKey("acme", id));
    const text = new TextDecoder().decode(stored!.bytes);
    expect(text).not.toContain(key.slice(-64)); // the secret is never stored
    const record = parseKeyRecord(JSON.parse(text));
    expect(record).toMatchObject({ id, tenant: "acme", roles: ["search", "publish"], hash: await hashApiKey(key), limits: { rps: 5, maxK: 20 } });
    expect(await keyMatches(record, key)).toBe(true);

    const list = await keys("list", "--tenant", "acme");
    expect(list.code).toBe(0);
    expect(list.out).toContain(id);
    expect(list.out).not.toContain("REVOKED");

    const r = await keys("revoke", "--tenant", "acme", id);
    expect(r.code).toBe(0);
    const revoked = parseKeyRecord(JSON.parse(new TextDecoder().decode((await target.get(keyRecordKey("acme", id)))!.bytes)));
    expect(revoked.revokedAt).toEqual(expect.any(String));
    expect(await keyMatches(revoked, key)).toBe(false);
    expect((await keys("list", "--tenant", "acme")).out).toContain("REVOKED");
  });

  it("bad usage exits 2; an unknown key id exits 1", async () => {
    expect((await keys("create", "--tenant", "acme", "--roles", "root")).code).toBe(2);
    expect((await keys("create", "--tenant", "acme")).code).toBe(2);
    expect((await keys("create", "--tenant", "Bad Name", "--roles", "search")).code).toBe(2);
    const unknown = await keys("revoke", "--tenant", "acme", "0123456789abcdef");
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe("i3 keys: not_found: no key 0123456789abcdef for tenant acme"); // no stack, no usage
    const noTenant = await keys("list");
    expect(noTenant.code).toBe(2);
    expect(noTenant.err).toMatch(/^i3 keys: missing --tenant\n\nusage: i3 keys create/);
    expect((await keys("revoke", "--tenant", "acme", "not-an-id")).code).toBe(2);
    const worker = await cli((io) => runKeysCommand(["list", "--tenant", "acme", "--to", "worker"], io));
    expect(worker.code).toBe(2);
    expect(worker.err).toMatch(/--to must be local or s3, got worker/);
  });
});
