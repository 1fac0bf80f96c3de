import { createQueryEncoder, type QueryEncoder } from "../encoder/query-encoder";
import { createWasmSession } from "../encoder/ort-web";
import {
  decodeShard, FormatError, objectKey, parseManifest, parsePointer, pointerKey, sha256Hex,
  type Manifest, type ObjectRef, type Pointer,
} from "../../format";
import type { LexicalReader } from "../../search/bm25";
import type { ShardVectors } from "../../search/dense";
import { createTokenizer } from "../../text/tokenizer";
import type { ByteCache } from "./byte-cache";
import { openLexical } from "./bm25-reader";
import { fetchVerified, getBytes } from "./r2";

/** One published version of an index, ready to search: manifest, query encoder, and shard access. */
export interface LoadedIndex {
  tenant: string;
  index: string;
  version: string;
  manifest: Manifest;
  encoder: QueryEncoder;
  /** The vectors of every shard (from the isolate cache, fetched and verified again if evicted). */
  shards(): Promise<ShardVectors[]>;
  /** BM25 buckets and norms (absent without a usable lexical section). */
  lexical?: LexicalReader;
}

/** Reads the index's pointer; null when the index has never been published (or does not exist). */
export async function readPointer(bucket: R2Bucket, tenant: string, index: string): Promise<Pointer | null> {
  const obj = await bucket.get(pointerKey(tenant, index));
  if (!obj) return null;
  let json: unknown;
  try {
    json = await obj.json();
  } catch (e) {
    throw new FormatError("invalid_pointer", `pointer of ${tenant}/${index} is not JSON`, { cause: e });
  }
  return parsePointer(json, { tenant, index });
}

/**
 * Loads a version named by a pointer: the manifest (sha256 checked against the pointer), the query model and
 * vocab, and every shard, all verified, so a corrupted version fails here and never replaces a good one.
 * Throws FormatError on any corrupt or missing object.
 */
export async function loadIndex(
  bucket: R2Bucket,
  cache: ByteCache,
  tenant: string,
  index: string,
  pointer: Pointer,
): Promise<LoadedIndex> {
  const manifestBytes = await getBytes(bucket, pointer.manifest);
  if (!manifestBytes) throw new FormatError("truncated", `manifest ${pointer.manifest} is missing from R2`);
  const sha = await sha256Hex(manifestBytes);
  if (sha !== pointer.sha256) {
    throw new FormatError("checksum_mismatch", `manifest ${pointer.manifest}: expected sha256 ${pointer.sha256}, got ${sha}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(manifestBytes));
  } catch (e) {
    throw new FormatError("invalid_manifest", `manifest ${pointer.manifest} is not JSON`, { cause: e });
  }
  const manifest = parseManifest(json);

  const encoder = await loadEncoder(bucket, cache, tenant, index, manifest);
  const refs = manifest.partitions.flatMap((p) => p.shards);
  const shard = async (ref: ObjectRef): Promise<ShardVectors> => {
    const key = objectKey(tenant, index, ref.path);
    const hit = cache.get<ShardVectors>(key);
    if (hit) return hit;
    const s = decodeShard(await fetchVerified(bucket, tenant, index, ref));
    if (s.header.dims !== manifest.vectors.dim) {
      throw new FormatError("invalid_object", `shard ${ref.path}: expected ${manifest.vectors.dim} dims, got ${s.header.dims}`);
    }
    const view: ShardVectors = { count: s.header.count, dims: s.header.dims, ...s };
    cache.set(key, view, s.header.totalBytes);
    return view;
  };
  const shards = () => Promise.all(refs.map(shard));
  await shards(); // verify everything before this version may serve
  const lexical = await openLexical(bucket, cache, tenant, index, manifest);
  return { tenant, index, version: pointer.version, manifest, encoder, shards, lexical };
}

async function loadEncoder(
  bucket: R2Bucket,
  cache: ByteCache,
  tenant: string,
  index: string,
  manifest: Manifest,
): Promise<QueryEncoder> {
  const { query, vocab, maxQueryTokens } = manifest.model;
  const key = `${objectKey(tenant, index, query.path)}|${vocab.sha256}|${maxQueryTokens}`;
  const hit = cache.get<QueryEncoder>(key);
  if (hit) return hit;
  const [modelBytes, vocabBytes] = await Promise.all([
    fetchVerified(bucket, tenant, index, query),
    fetchVerified(bucket, tenant, index, vocab),
  ]);
  const tokenizer = createTokenizer(JSON.parse(new TextDecoder().decode(vocabBytes)));
  const session = await createWasmSession(modelBytes);
  const encoder = createQueryEncoder(session, tokenizer, { maxTokens: maxQueryTokens, dim: manifest.vectors.dim });
  // The session's wasm memory is roughly the model's size again; count both.
  cache.set(key, encoder, 2 * modelBytes.byteLength + vocabBytes.byteLength);
  return encoder;
}
