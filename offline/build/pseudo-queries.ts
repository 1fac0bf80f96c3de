// Held-out queries for a corpus that has none: spans of words cut from random documents (a seeded choice). Encoded
// with the index's own query model they measure the partition plan (short spans) and the dense side against BM25
// for the fusion weight (longer spans, offline/eval/pseudo-fusion.ts).
import { decodeDocBlock, type DocBlockRef } from "../../src/format/index.ts";
import { passageText } from "../../src/text/passages.ts";
import type { Tokenizer } from "../../src/text/tokenizer/index.ts";
import { samplePositions } from "../vectors/kmeans.ts";
import { rng } from "../../src/random.ts";
import type { NodeEncoder } from "../encoder/node-encoder.ts";
import type { ObjectStore } from "./object-store.ts";

/** Words per pseudo-query of the partition plan: drawn from this range (web queries average 3-6 words; questions run longer). */
const MIN_WORDS = 4;
const MAX_WORDS = 12;

/** Where the pseudo-queries come from, as the manifest's plan records it. */
export const PSEUDO_QUERY_SOURCE = `pseudo-queries: ${MIN_WORDS}-${MAX_WORDS} consecutive words of random documents, query model`;

/** A query text cut from one document, and that document's ordinal. */
export interface PseudoQuery {
  ordinal: number;
  text: string;
}

/** `n` query texts cut from random documents of the doc blocks (fewer when the corpus has fewer documents). */
export async function pseudoQueryTexts(store: ObjectStore, blocks: DocBlockRef[], documents: number, n: number, seed: number): Promise<string[]> {
  return (await pseudoQueries((ref) => store.read(ref), blocks, documents, n, seed)).map((q) => q.text);
}

/**
 * `n` spans of `words.min` to `words.max` consecutive words (uniform; the whole text when shorter), each from another
 * random document (a seeded choice; fewer when the corpus has fewer documents with text), read through `read`.
 */
export async function pseudoQueries(
  read: (ref: DocBlockRef) => Promise<Uint8Array>, blocks: DocBlockRef[], documents: number, n: number, seed: number,
  words: { min: number; max: number } = { min: MIN_WORDS, max: MAX_WORDS },
): Promise<PseudoQuery[]> {
  const random = rng(seed);
  const picks = samplePositions(documents, Math.min(n, documents), random);
  const out: PseudoQuery[] = [];
  let b = 0;
  let docs: ReturnType<typeof decodeDocBlock> | undefined;
  for (const ordinal of picks) {
    while (ordinal >= blocks[b].first + blocks[b].count) {
      b++;
      docs = undefined;
    }
    docs ??= decodeDocBlock(await read(blocks[b]));
    const doc = docs[ordinal - blocks[b].first];
    const all = passageText(doc).split(/\s+/).filter(Boolean);
    if (all.length === 0) continue;
    const len = Math.min(all.length, words.min + Math.floor(random() * (words.max - words.min + 1)));
    const start = Math.floor(random() * (all.length - len + 1));
    out.push({ ordinal, text: all.slice(start, start + len).join(" ") });
  }
  return out;
}

/** The query vectors of `texts`, tokenized and truncated as the worker does. */
export async function encodeQueries(texts: string[], tokenizer: Tokenizer, encoder: NodeEncoder, maxTokens: number): Promise<Float32Array> {
  const out = new Float32Array(texts.length * encoder.dim);
  for (let i = 0; i < texts.length; i += 32) {
    const batch = texts.slice(i, i + 32).map((t) => tokenizer.encode(t).slice(0, maxTokens));
    out.set(await encoder.encode(batch), i * encoder.dim);
  }
  return out;
}
