// The tokenizer of a vocab object, shared by every index (of any tenant) whose vocab is the same bytes: the query
// model's encoder, the static tier and highlights take it from here, so a vocab is fetched and parsed once per isolate
// (and highlights never need the ONNX session).
import { FormatError, type ObjectRef } from "../../format";
import { createTokenizer, type Tokenizer, type VocabEntry } from "../../text/tokenizer";
import { cachedLoad, type ByteCache } from "../store/byte-cache";
import { fetchVerified } from "../store/r2";
import type { Storage } from "../store/storage";

/**
 * The tokenizer of `vocab` (isolate cache, else the colo cache or R2, checked against its sha256). A vocab that is
 * not a JSON array of pieces is a FormatError (503).
 */
export async function loadTokenizer(s: Storage, cache: ByteCache, tenant: string, index: string, vocab: ObjectRef): Promise<Tokenizer> {
  const key = `tokenizer:${vocab.sha256}`;
  return cachedLoad(cache, key, s, () => create(s, cache, tenant, index, vocab, key));
}

async function create(s: Storage, cache: ByteCache, tenant: string, index: string, vocab: ObjectRef, key: string): Promise<Tokenizer> {
  const bytes = await fetchVerified(s, tenant, index, vocab);
  let tokenizer: Tokenizer;
  try {
    const pieces: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (!Array.isArray(pieces)) throw new Error("not an array of pieces");
    tokenizer = createTokenizer(pieces as VocabEntry[]);
  } catch (e) {
    throw new FormatError("invalid_object", `vocab ${vocab.path} of ${tenant}/${index} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  // The pieces' trie and tables: about three times the JSON.
  cache.set(key, tokenizer, 3 * bytes.byteLength);
  return tokenizer;
}
