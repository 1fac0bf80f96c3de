import { decodeStaticQuery, FormatError, type Manifest } from "../../format";
import { createStaticEncoder, type StaticEncoder } from "../../search/static-encoder";
import { createTokenizer } from "../../text/tokenizer";
import type { ByteCache } from "../store/byte-cache";
import { fetchVerified } from "../store/r2";
import type { Storage } from "../store/storage";

/** Loads in flight in this isolate, by cache key. */
const loading = new Map<string, Promise<StaticEncoder>>();

/**
 * The static query encoder of a manifest that has one (`model.static`), shared by every index whose static model and
 * vocab are the same bytes; the caller checks that the manifest has one. A model that does not decode, or whose dims
 * or vocab do not match the index, is a FormatError (503).
 */
export async function loadStaticEncoder(s: Storage, cache: ByteCache, tenant: string, index: string, manifest: Manifest): Promise<StaticEncoder> {
  const ref = manifest.model.static!;
  const key = `static:${ref.sha256}|${manifest.model.vocab.sha256}|${manifest.vectors.dim}`;
  const hit = cache.get<StaticEncoder>(key);
  if (hit) return hit;
  let p = loading.get(key);
  if (!p) {
    p = create(s, cache, tenant, index, manifest, key).finally(() => loading.delete(key));
    loading.set(key, p);
  }
  return p;
}

async function create(s: Storage, cache: ByteCache, tenant: string, index: string, manifest: Manifest, key: string): Promise<StaticEncoder> {
  const { static: ref, vocab } = manifest.model;
  const [bytes, vocabBytes] = await Promise.all([fetchVerified(s, tenant, index, ref!), fetchVerified(s, tenant, index, vocab)]);
  const model = decodeStaticQuery(bytes);
  let pieces: Array<[string, number]>;
  try {
    pieces = JSON.parse(new TextDecoder().decode(vocabBytes));
  } catch (e) {
    throw new FormatError("invalid_object", `vocab ${vocab.path} of ${tenant}/${index} is not JSON`, { cause: e });
  }
  if (model.dims !== manifest.vectors.dim || !Array.isArray(pieces) || model.vocab !== pieces.length) {
    throw new FormatError("invalid_object", `static query model ${ref!.path}: ${model.vocab} rows of ${model.dims} dims, the index has ${manifest.vectors.dim} dims and a vocab of ${Array.isArray(pieces) ? pieces.length : "?"}`);
  }
  const encoder = createStaticEncoder(model, createTokenizer(pieces));
  cache.set(key, encoder, bytes.byteLength + 4 * model.vocab + vocabBytes.byteLength);
  return encoder;
}
