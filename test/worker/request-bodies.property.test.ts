// Property tests of the request bodies through the real worker (its fetch handler, auth, schemas and error
// handler): a search body, a pointer and a manifest, each valid, changed in a few places, any JSON value or any
// text, answer 2xx or a coded 4xx (`{ error: { code, message } }`, a code of the API's list), never a 5xx.
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex, versionIdOf } from "../../src/format";
import { API_ERROR_CODES } from "../../src/worker/http-error";
import { anyValue, mutationsOf, oddString } from "../src/format/json-mutations";
import { FIXTURE_INDEX, createKey, publishBuildDir, repoFile } from "./helpers";

const TENANT = "fuzzreq";
/** Runs per body kind (a search that passes validation encodes and scores a query: tens of ms each). */
const RUNS = { numRuns: 40 };
let searchKey: string, publishKey: string;
let manifestBytes: Uint8Array;
let pointer: Record<string, string>;

const validSearch = { query: "vitamin D and bone density", k: 5, mode: "hybrid", fusion: "weighted", weight: 0.4, normalization: "tmm", probe: 2 };

beforeAll(async () => {
  const { version } = await publishBuildDir(FIXTURE_INDEX, TENANT, "mini");
  searchKey = await createKey(TENANT, ["search"]);
  publishKey = await createKey(TENANT, ["publish"]);
  manifestBytes = await repoFile(`${FIXTURE_INDEX}/manifest.json`);
  const sha256 = await sha256Hex(manifestBytes);
  pointer = { version, manifest: `tenants/${TENANT}/indexes/mini/manifests/${version}.json`, publishedAt: "2025-01-02T03:04:05.000Z", sha256 };
});

/** Any body text: a valid body changed, any JSON value, odd strings as JSON, or text that is not JSON at all. */
function bodies(valid: unknown): fc.Arbitrary<string> {
  return fc.oneof(
    mutationsOf(valid).map((v) => JSON.stringify(v) ?? ""),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    anyValue.map((v) => JSON.stringify(v) ?? "null"),
    oddString,
    fc.constantFrom("", "{", "[".repeat(5000), "{\"query\":", "\u0000", "\ufeff{}", "{\"query\":\"x\"}{}"),
  );
}

/** 2xx, or a 4xx with a coded error body; never a 5xx. */
async function expectHandled(res: Response): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBeLessThan(500);
  if (res.status >= 400) {
    const body = JSON.parse(text);
    expect(API_ERROR_CODES).toContain(body.error.code);
    expect(body.error.message).toEqual(expect.any(String));
  }
}

describe("request bodies through the worker", () => {
  it("search: 200 or a coded 4xx", async () => {
    await fc.assert(fc.asyncProperty(bodies(validSearch), fc.constantFrom("application/json", "text/plain", "application/xml"), async (body, type) => {
      const res = await exports.default.fetch(`http://worker/v1/tenants/${TENANT}/indexes/mini/search`, {
        method: "POST", body, headers: { "content-type": type, authorization: `Bearer ${searchKey}` },
      });
      await expectHandled(res);
    }), RUNS);
  });

  it("PUT current (a pointer): 2xx or a coded 4xx", async () => {
    await fc.assert(fc.asyncProperty(bodies(pointer), fc.constantFrom<Record<string, string>>({ "if-none-match": "*" }, { "if-match": "\"x\"" }, {}), async (body, cond) => {
      const res = await exports.default.fetch(`http://worker/v1/tenants/${TENANT}/indexes/fuzzed/current`, {
        method: "PUT", body, headers: { "content-type": "application/json", authorization: `Bearer ${publishKey}`, ...cond },
      });
      await expectHandled(res);
    }), RUNS);
  });

  it("PUT manifests (a manifest, named by its own sha256 so its content is checked): 2xx or a coded 4xx", async () => {
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    await fc.assert(fc.asyncProperty(bodies(manifest), async (body) => {
      const bytes = new TextEncoder().encode(body);
      const version = versionIdOf(await sha256Hex(bytes));
      const res = await exports.default.fetch(`http://worker/v1/tenants/${TENANT}/indexes/mini/manifests/${version}`, {
        method: "PUT", body: bytes, headers: { authorization: `Bearer ${publishKey}` },
      });
      await expectHandled(res);
    }), RUNS);
  });
});
