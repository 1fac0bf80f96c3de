// Helpers of the workerd tests. The files share one worker and one R2 simulator (vitest.config.ts: isolate false):
// each file publishes under tenant/index names no other file uses.
import { env, exports } from "cloudflare:workers";
import { generateApiKey, keyRecordKey, type KeyLimits, type Role } from "../../src/worker/auth";
import { manifestKey, objectKey, pointerKey, sha256Hex, versionIdOf } from "../../src/format";

export const bucket = (env as unknown as { INDEXES: R2Bucket }).INDEXES;
const files = (env as unknown as { REPO_FILES: Fetcher }).REPO_FILES;

/** A repo file's bytes, served from Node by the test-only REPO_FILES binding. */
export async function repoFile(path: string): Promise<Uint8Array> {
  const res = await files.fetch(`http://files/${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function repoJson<T = any>(path: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await repoFile(path)));
}

/** The fixture index that global-setup.ts builds, as published by `publishBuildDir`. */
export const FIXTURE_INDEX = "test/.cache/mini-index";

/** What global-setup.ts computed offline for the fixture index's queries (onnxruntime-node, the same src/ core). */
export interface FixtureExpectations {
  queries: Array<{ id: string; text: string }>;
  /** Query vectors of the edge query model, one per query. */
  vectors: number[][];
  /** Exact float32 dense top 10 ids per query id. */
  exactTop10: Record<string, string[]>;
  /** BM25 top 10 per query id. */
  lexicalTop10: Record<string, Array<{ id: string; score: number }>>;
  /** Hybrid top 10 ids per fusion ("rrf", "tmm", "minmax"), then per query id. */
  hybridTop10: Record<string, Record<string, string[]>>;
  /** The index's default fusion. */
  weight: number;
  normalization: "tmm" | "minmax";
}

/** Reads the offline expectations; throws when they are empty or do not cover every query (no vacuous loops). */
export async function fixtureExpectations(): Promise<FixtureExpectations> {
  const e: FixtureExpectations = { ...(await repoJson("test/.cache/mini-expected.json")), ...(await repoJson("test/.cache/mini-lexical.json")) };
  const ids = e.queries.map((q) => q.id);
  const covered = (m: Record<string, unknown[]>) => ids.every((id) => (m[id]?.length ?? 0) > 0);
  const ok = ids.length > 0 && e.vectors.length === ids.length && covered(e.exactTop10) && covered(e.lexicalTop10) &&
    ["rrf", "tmm", "minmax"].every((f) => e.hybridTop10[f] && covered(e.hybridTop10[f]));
  if (!ok) throw new Error("test/.cache/mini-*.json do not cover every fixture query: delete test/.cache and rerun");
  return e;
}

/** Writes a manifest (bytes) and moves the pointer to it, as `i3 publish` does last. Returns the version. */
export async function putManifestAndPointer(tenant: string, index: string, manifestBytes: Uint8Array): Promise<string> {
  const sha256 = await sha256Hex(manifestBytes);
  const version = versionIdOf(sha256);
  const manifest = manifestKey(tenant, index, version);
  await bucket.put(manifest, manifestBytes);
  await bucket.put(pointerKey(tenant, index), JSON.stringify({ version, manifest, publishedAt: new Date().toISOString(), sha256 }));
  return version;
}

/** Publishes a build directory of the repo into the R2 simulator: objects, then manifest, then pointer. */
export async function publishBuildDir(dir: string, tenant: string, index: string): Promise<{ version: string; manifest: any }> {
  const bytes = await repoFile(`${dir}/manifest.json`);
  const manifest = JSON.parse(new TextDecoder().decode(bytes));
  for (const o of manifest.objects) await bucket.put(objectKey(tenant, index, o.path), await repoFile(`${dir}/${o.path}`));
  if (!testKeys.has(tenant)) await createKey(tenant);
  return { version: await putManifestAndPointer(tenant, index, bytes), manifest };
}

/** API keys the tests created, by tenant: `search()` sends the tenant's own (else the first one made). */
export const testKeys = new Map<string, string>();

/** Creates an API key as `i3 keys create` does (its record in the R2 simulator); returns the key. */
export async function createKey(tenant: string, roles: Role[] = ["search"], limits?: KeyLimits): Promise<string> {
  const { key, record } = await generateApiKey(tenant, roles, { limits });
  await bucket.put(keyRecordKey(tenant, record.id), JSON.stringify(record));
  if (!testKeys.has(tenant) && roles.includes("search") && !limits) testKeys.set(tenant, key);
  return key;
}

/** POSTs a search to the worker (its real fetch handler). */
export async function search(
  tenant: string,
  index: string,
  body: unknown,
  opts: { key?: string | null } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const key = opts.key === undefined ? (testKeys.get(tenant) ?? testKeys.values().next().value) : opts.key;
  const res = await exports.default.fetch(`http://worker/v1/tenants/${tenant}/indexes/${index}/search`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), headers: res.headers };
}
