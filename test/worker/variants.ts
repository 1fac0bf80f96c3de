// Versions of the fixture index with one model object replaced (tests of load failures): the replacement is put in
// the R2 simulator under its own sha256, as `i3 publish` would put it, so only its content is wrong.
import { objectKey, sha256Hex } from "../../src/format";
import { FIXTURE_INDEX, bucket, publishBuildDir, putManifestAndPointer, repoFile } from "./helpers";

/**
 * A copy of `manifest` whose query model (`which: "query"`) or vocab is `bytes`, stored in R2 for tenant/index.
 *
 * @example
 * const m = await withModelObject(published.manifest, "vocab", new TextEncoder().encode("not json"), "life", "docs");
 */
export async function withModelObject(manifest: any, which: "query" | "vocab", bytes: Uint8Array, tenant: string, index: string): Promise<any> {
  const m = structuredClone(manifest);
  const old = m.model[which];
  const sha256 = await sha256Hex(bytes);
  const ref = { ...old, path: old.path.replace(/[0-9a-f]{64}/, sha256), sha256, bytes: bytes.byteLength };
  await bucket.put(objectKey(tenant, index, ref.path), bytes);
  m.model[which] = ref;
  if (which === "vocab") m.model.tokenizerHash = sha256;
  m.objects = m.objects.map((o: any) => (o.path === old.path ? ref : o));
  return m;
}

/** Publishes a manifest object (as JSON) and moves the pointer to it; returns the version. */
export const publishManifest = (tenant: string, index: string, m: any) =>
  putManifestAndPointer(tenant, index, new TextEncoder().encode(JSON.stringify(m)));

type Replacement = ["query" | "vocab", Uint8Array];

/** Replacements that each make the query encoder fail to load, by what is wrong. */
export async function brokenModelObjects(manifest: any, base: string): Promise<Array<[string, Replacement[]]>> {
  const vocab = await repoFile(`${base}/${manifest.model.vocab.path}`);
  return [
    ["a vocab that is not JSON", [["vocab", vocab.slice(0, vocab.length - 10)]]],
    ["model bytes onnxruntime rejects", [["query", new TextEncoder().encode("not an onnx model")]]],
    ["a model that fails on the vocab's ids", [["query", await repoFile("test/fixtures/tiny-encoder.onnx")]]],
    // A working model and vocab (test/fixtures/beir-tiny) whose output has 3 dims, where the index has 512.
    ["a model whose output has the wrong size", [
      ["query", await repoFile("test/fixtures/beir-tiny/model/tiny.onnx")], ["vocab", await repoFile("test/fixtures/beir-tiny/model/vocab.json")],
    ]],
  ];
}

/** A copy of `manifest` with every replacement of `brokenModelObjects` applied (objects stored in R2). */
export async function withModelObjects(manifest: any, replacements: Replacement[], tenant: string, index: string): Promise<any> {
  let m = manifest;
  for (const [which, bytes] of replacements) m = await withModelObject(m, which, bytes, tenant, index);
  return m;
}

/** The static query tier of the shipped model, as `i3 build` adds it to an index. */
const STATIC_MODEL = "models/i3-scifact/query.static.i3sq";

/** Publishes the fixture index as tenant/index with the static model added to its manifest (and `defaultEncoder`). */
export async function publishWithStaticTier(tenant: string, index: string, defaultEncoder?: "model" | "static"): Promise<void> {
  const { manifest } = await publishBuildDir(FIXTURE_INDEX, tenant, index);
  const bytes = await repoFile(STATIC_MODEL);
  const sha256 = await sha256Hex(bytes);
  const ref = { path: `objects/${sha256}.i3sq`, kind: "static", bytes: bytes.byteLength, sha256 };
  await bucket.put(objectKey(tenant, index, ref.path), bytes);
  manifest.version.minor = Math.max(manifest.version.minor, 1);
  manifest.model.static = ref;
  if (defaultEncoder) manifest.model.defaultEncoder = defaultEncoder;
  manifest.objects.push(ref);
  await putManifestAndPointer(tenant, index, new TextEncoder().encode(JSON.stringify(manifest)));
}
