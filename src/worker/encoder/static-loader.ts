import { decodeStaticQuery, FormatError, type Manifest } from "../../format";
import { createStaticEncoder, type StaticEncoder } from "../../search/static-encoder";
import { loadTokenizer } from "./tokenizer-loader";
import { cachedLoad, type ByteCache } from "../store/byte-cache";
import { fetchVerified } from "../store/r2";
import type { Storage } from "../store/storage";

/**
 * The static query encoder of a manifest that has one (`model.static`), shared by every index whose static model and
 * vocab are the same bytes; the caller checks that the manifest has one. A model that does not decode, or whose dims
 * or vocab do not match the index, is a FormatError (503).
 */
export async function loadStaticEncoder(s: Storage, cache: ByteCache, tenant: string, index: string, manifest: Manifest): Promise<StaticEncoder> {
  const ref = manifest.model.static!;
  const key = `static:${ref.sha256}|${manifest.model.vocab.sha256}|${manifest.vectors.dim}`;
  return cachedLoad(cache, key, s, () => create(s, cache, tenant, index, manifest, key));
}

async function create(s: Storage, cache: ByteCache, tenant: string, index: string, manifest: Manifest, key: string): Promise<StaticEncoder> {
  const { static: ref, vocab } = manifest.model;
  const [bytes, tokenizer] = await Promise.all([fetchVerified(s, tenant, index, ref!), loadTokenizer(s, cache, tenant, index, vocab)]);
  const model = decodeStaticQuery(bytes, { verified: true }); // fetchVerified: checked against its sha256 once read from R2
  if (model.dims !== manifest.vectors.dim || model.vocab !== tokenizer.vocabSize) {
    throw new FormatError("invalid_object", `static query model ${ref!.path}: ${model.vocab} rows of ${model.dims} dims, the index has ${manifest.vectors.dim} dims and a vocab of ${tokenizer.vocabSize}`);
  }
  const encoder = createStaticEncoder(model, tokenizer);
  cache.set(key, encoder, bytes.byteLength + 4 * model.vocab); // its tokenizer is counted where it is cached
  return encoder;
}
