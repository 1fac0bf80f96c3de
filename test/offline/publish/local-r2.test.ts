// `i3 publish --to local`: writes through Miniflare into the persisted R2 state `wrangler dev` reads, then reads it
// back the way `wrangler dev` (a Miniflare with the INDEXES binding) and `wrangler r2 object get --local` do.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../../src/format/checksum.ts";
import { manifestKey, objectKey, pointerKey } from "../../../src/format/r2-keys.ts";
import { parsePointer } from "../../../src/format/pointer.ts";
import { writeFakeBuild } from "../../helpers/fake-build.ts";
import { createLocalR2Target, isPublishError, listVersions, loadBuild, publishIndex, runPublishCommand } from "../../../offline/publish/index.ts";

const TENANT = "demo";
const INDEX = "scifact";


/** A Miniflare set up as `wrangler dev` sets up this worker: named worker, INDEXES -> i3-indexes, state in <persist>/v3. */
function wranglerDevLike(persistTo: string): Miniflare {
  // wrangler 4 builds v4-shaped options (a `workers` array) and converts them, as here.
  return new Miniflare(convertV4MiniflareOptions({
    resourcePersistencePath: path.join(persistTo, "v3"),
    workers: [
      {
        name: "i3-edge",
        modules: true,
        compatibilityDate: "2026-11-01",
        r2Buckets: { INDEXES: "i3-indexes" },
        script: `export default { async fetch(req, env) {
          const key = decodeURIComponent(new URL(req.url).pathname.slice(1));
          const o = await env.INDEXES.get(key);
          return o ? new Response(o.body) : new Response("missing", { status: 404 });
        } }`,
      },
    ],
  }));
}

let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "i3-publish-local-"));
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("local R2 target (miniflare persistence)", () => {
  it("puts, gets, lists and honours conditions like R2", async () => {
    const target = createLocalR2Target({ persistTo: path.join(work, "state-a") });
    try {
      const { etag } = await target.put("p/k", new TextEncoder().encode("one"), { ifNoneMatch: "*" });
      await expect(target.put("p/k", new Uint8Array([1]), { ifNoneMatch: "*" })).rejects.toMatchObject({ code: "precondition_failed" });
      await expect(target.put("p/k", new Uint8Array([1]), { ifMatch: "0000" })).rejects.toMatchObject({ code: "precondition_failed" });
      await expect(target.put("p/none", new Uint8Array([1]), { ifMatch: etag })).rejects.toMatchObject({ code: "precondition_failed" });
      await target.put("p/k", new TextEncoder().encode("two"), { ifMatch: etag });
      expect(new TextDecoder().decode((await target.get("p/k"))!.bytes)).toBe("two");
      expect(await target.head("p/k")).toMatchObject({ size: 3 });
      expect(await target.head("p/none")).toBeNull();
      await target.put("p/j", new Uint8Array([2]));
      const keys: string[] = [];
      for await (const k of target.list("p/")) keys.push(k);
      expect(keys.sort()).toEqual(["p/j", "p/k"]);
    } finally {
      await target.close?.();
    }
  });

  it("checks a given sha256: bytes changed after verification are refused, and nothing is published", async () => {
    const target = createLocalR2Target({ persistTo: path.join(work, "state-c") });
    try {
      const ok = new TextEncoder().encode("verified");
      const sha256 = await sha256Hex(ok);
      await target.put("p/ok", ok, { sha256 });
      const err = await target.put("p/bad", new TextEncoder().encode("tampered"), { sha256 }).catch((e) => e);
      expect(isPublishError(err, "invalid_build")).toBe(true);
      expect(await target.head("p/bad")).toBeNull();

      // The upload reads a verified build without hashing it again; the store's check catches the change.
      const build = await writeFakeBuild(path.join(work, "build-c"));
      const verified = await loadBuild(build.dir);
      const [victim, bytes] = [...build.files][2];
      const changed = Uint8Array.from(bytes);
      changed[0] ^= 0xff;
      await writeFile(path.join(build.dir, victim), changed);
      const e = await publishIndex({ buildDir: verified, tenant: TENANT, index: INDEX, target, concurrency: 1 }).catch((x) => x);
      expect(isPublishError(e, "invalid_build")).toBe(true);
      expect(e.message).toContain(victim);
      expect(await target.head(objectKey(TENANT, INDEX, victim))).toBeNull();
      expect(await target.head(manifestKey(TENANT, INDEX, build.version))).toBeNull();
      expect(await target.get(pointerKey(TENANT, INDEX))).toBeNull();
    } finally {
      await target.close?.();
    }
  });

  it("i3 publish --to local writes what wrangler dev and wrangler r2 --local read back", async () => {
    const persistTo = path.join(work, "state-b");
    const build = await writeFakeBuild(path.join(work, "build"));
    const out: string[] = [];
    const code = await runPublishCommand([build.dir, "--tenant", TENANT, "--index", INDEX, "--to", "local", "--persist-to", persistTo], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    expect(code, out.join("\n")).toBe(0);
    expect(out.at(-1)).toMatch(/uploaded 4 objects/);

    const mf = wranglerDevLike(persistTo);
    try {
      const read = async (key: string) => {
        const res = await mf.dispatchFetch(`http://localhost/${encodeURIComponent(key)}`);
        expect(res.status, key).toBe(200);
        return new Uint8Array(await res.arrayBuffer());
      };
      for (const [p, bytes] of build.files) expect(await read(objectKey(TENANT, INDEX, p))).toEqual(bytes);
      expect(await read(manifestKey(TENANT, INDEX, build.version))).toEqual(build.manifestBytes);
      const pointer = parsePointer(JSON.parse(new TextDecoder().decode(await read(pointerKey(TENANT, INDEX)))), { tenant: TENANT, index: INDEX });
      expect(pointer.version).toBe(build.version);
    } finally {
      await mf.dispose();
    }

    // the wrangler CLI itself, against the same --persist-to
    const { stdout } = await promisify(execFile)(
      "npx",
      ["wrangler", "r2", "object", "get", `i3-indexes/${pointerKey(TENANT, INDEX)}`, "--local", "--persist-to", persistTo, "--pipe"],
      { env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" }, timeout: 60_000 },
    );
    expect(JSON.parse(stdout).version).toBe(build.version);

    // versions, through a fresh local target, lists it as current
    const target = createLocalR2Target({ persistTo });
    try {
      const versions = await listVersions(target, TENANT, INDEX);
      expect(versions).toEqual([expect.objectContaining({ version: build.version, current: true })]);
    } finally {
      await target.close?.();
    }
  }, 120_000);
});
