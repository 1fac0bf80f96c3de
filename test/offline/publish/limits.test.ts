// `i3 publish` and the index limits (src/format/limits.ts): a build over them is refused before anything is uploaded.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INDEX_LIMITS } from "../../../src/format/limits.ts";
import { loadBuild, publishIndex } from "../../../offline/publish/publish.ts";
import { isPublishError, type PublishTarget } from "../../../offline/publish/target.ts";
import { writeFakeBuild } from "../../helpers/fake-build.ts";

let work: string;

/** A target that records its writes and holds nothing. */
function recordingTarget(): PublishTarget & { puts: string[] } {
  const puts: string[] = [];
  return {
    describe: "recording", puts,
    head: async () => null,
    get: async () => null,
    put: async (key) => (puts.push(key), { etag: "e" }),
    async *list() {},
    delete: async () => {},
  };
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "i3-publish-limits-"));
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe("publish and the index limits", () => {
  it("a manifest over the manifest size limit -> invalid_build, nothing uploaded", async () => {
    const build = await loadBuild((await writeFakeBuild(path.join(work, "big"))).dir);
    // The same manifest padded with whitespace past the limit (still JSON, still the same index).
    const padded = new Uint8Array(INDEX_LIMITS.maxManifestBytes + 1).fill(0x20);
    padded.set(build.manifestBytes);
    const target = recordingTarget();
    const err = await publishIndex({ buildDir: { ...build, manifestBytes: padded }, tenant: "acme", index: "big", target }).catch((e) => e);
    expect(isPublishError(err, "invalid_build")).toBe(true);
    expect(err.message).toContain(`over the limit of ${INDEX_LIMITS.maxManifestBytes}`);
    expect(err.message).toContain("nothing was uploaded");
    expect(target.puts).toEqual([]);
  });

  it("a build within them publishes", async () => {
    const target = recordingTarget();
    const r = await publishIndex({ buildDir: (await writeFakeBuild(path.join(work, "ok"))).dir, tenant: "acme", index: "ok", target });
    expect(r.pointerMoved).toBe(true);
    expect(target.puts.length).toBeGreaterThan(0);
  });
});
