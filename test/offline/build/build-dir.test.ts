// The build-directory module on real files: the manifest is read in one place with errors that name the file; every
// object is checked for its size and sha256, hashed once per opened directory; a corrupt object is reported once.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBuildDir, readManifest } from "../../../offline/build/build-dir.ts";
import { BuildError } from "../../../offline/build/errors.ts";
import { createObjectStore } from "../../../offline/build/object-store.ts";
import { writeFakeBuild, type FakeBuild } from "../../helpers/fake-build.ts";

let tmp: string;
let n = 0;
const fresh = async (): Promise<FakeBuild> => writeFakeBuild(path.join(tmp, `b${++n}`));
/** The build's object at index i of manifest.objects, and its bytes. */
const nth = (b: FakeBuild, i: number) => ({ p: b.paths[i], bytes: b.files.get(b.paths[i])! });
const flipped = (bytes: Uint8Array) => {
  const x = Uint8Array.from(bytes);
  x[0] ^= 0xff;
  return x;
};

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), "i3-build-dir-"));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("openBuildDir", () => {
  it("reads the manifest and names the version after its sha256", async () => {
    const b = await fresh();
    const build = await openBuildDir(b.dir);
    expect(build.version).toBe(b.version);
    expect(build.manifestBytes).toEqual(b.manifestBytes);
    expect(build.objects.map((o) => o.path)).toEqual(b.paths);
    expect(build.bytes).toBe([...b.files.values()].reduce((s, x) => s + x.byteLength, 0));
    await build.verify();
    const { p, bytes } = nth(b, 1);
    expect(await build.readObject(build.objects.find((o) => o.path === p)!)).toEqual(bytes);
  });

  it("a missing manifest.json is invalid_build naming the file", async () => {
    const dir = path.join(tmp, "empty");
    await mkdir(dir);
    const e = await openBuildDir(dir).catch((x) => x);
    expect(e).toBeInstanceOf(BuildError);
    expect(e.code).toBe("invalid_build");
    expect(e.message).toBe(`${path.join(dir, "manifest.json")}: not found (is this a build directory?)`);
  });

  it("a manifest that is not JSON, or not a manifest, is invalid_build naming the file and the problem", async () => {
    const b = await fresh();
    const file = path.join(b.dir, "manifest.json");
    await writeFile(file, "{ not json");
    await expect(readManifest(b.dir)).rejects.toMatchObject({ code: "invalid_build", message: expect.stringMatching(new RegExp(`^${file}: invalid manifest: .*JSON`)) });
    await writeFile(file, JSON.stringify({ format: "something-else" }));
    await expect(readManifest(b.dir)).rejects.toMatchObject({ code: "invalid_build", message: expect.stringContaining(`${file}: invalid manifest: `) });
  });
});

describe("BuildDir.verify", () => {
  it("reports a corrupt object (same size, other bytes) once, with both sha256s; every problem in one error", async () => {
    const b = await fresh();
    const bad = nth(b, 2);
    await writeFile(path.join(b.dir, bad.p), flipped(bad.bytes));
    const gone = nth(b, 0);
    await rm(path.join(b.dir, gone.p));
    const e = await (await openBuildDir(b.dir)).verify().catch((x) => x);
    expect(e).toMatchObject({ name: "BuildError", code: "invalid_build" });
    expect(e.message).toMatch(/: 2 bad object\(s\):/);
    expect(e.message.split(bad.p)).toHaveLength(2); // named once
    expect(e.message).toMatch(new RegExp(`${bad.p}: expected sha256 ${bad.p.slice(8, 72)}, got [0-9a-f]{64}`));
    expect(e.message).toContain(`${gone.p}: missing`);
  });

  it("reports a wrong size without hashing; reading checks the size every time", async () => {
    const b = await fresh();
    const { p, bytes } = nth(b, 3);
    const build = await openBuildDir(b.dir);
    await build.verify();
    await writeFile(path.join(b.dir, p), bytes.subarray(1));
    await expect(build.verify()).rejects.toThrow(`${p}: expected ${bytes.byteLength} bytes, found ${bytes.byteLength - 1}`);
    const ref = build.objects.find((o) => o.path === p)!;
    await expect(build.readObject(ref)).rejects.toThrow(`object ${p}: expected ${bytes.byteLength} bytes, got ${bytes.byteLength - 1}`);
  });

  it("hashes each object once per opened directory: a later same-size change is for the store to refuse, a fresh open catches it", async () => {
    const b = await fresh();
    const { p, bytes } = nth(b, 2);
    const build = await openBuildDir(b.dir);
    await build.verify();
    await writeFile(path.join(b.dir, p), flipped(bytes));
    const ref = build.objects.find((o) => o.path === p)!;
    // Verified already: not hashed again (the upload passes ref.sha256 to the store, which checks it).
    expect(await build.readObject(ref)).toEqual(flipped(bytes));
    await expect(build.verify()).resolves.toBeUndefined();
    // A new open has hashed nothing yet.
    await expect((await openBuildDir(b.dir)).readObject(ref)).rejects.toThrow(/expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/);
    await expect((await openBuildDir(b.dir)).verify()).rejects.toThrow(/1 bad object/);
  });

  it("objects a store wrote are not hashed again when the directory is opened with that store", async () => {
    const dir = path.join(tmp, "written");
    const b = await writeFakeBuild(dir);
    const store = createObjectStore(path.join(tmp, "written-copy"));
    const build0 = await openBuildDir(dir);
    for (const o of build0.objects) await store.write(o.kind, await build0.readObject(o), { count: o.count });
    await writeFile(path.join(store.dir, "manifest.json"), b.manifestBytes);
    const { p, bytes } = nth(b, 1);
    await writeFile(path.join(store.dir, p), flipped(bytes)); // behind the store's back
    await expect((await openBuildDir(store.dir, { store })).verify()).resolves.toBeUndefined();
    await expect((await openBuildDir(store.dir)).verify()).rejects.toThrow(`${p}: expected sha256`);
  });
});
