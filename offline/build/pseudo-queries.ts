// Held-out query vectors for measuring the partition plan of a corpus that has no queries: short spans of words cut
// from random documents (a seeded choice), encoded with the index's own query model, as the worker encodes a query.
import { decodeDocBlock, type DocBlockRef } from "../../src/format/index.ts";
import { passageText } from "../../src/text/passages.ts";
import type { Tokenizer } from "../../src/text/tokenizer/index.ts";
import { samplePositions } from "../vectors/kmeans.ts";
import { rng } from "../../src/random.ts";
import type { NodeEncoder } from "../encoder/node-encoder.ts";
import type { ObjectStore } from "./object-store.ts";

/** Words per pseudo-query: drawn from this range (web queries average 3-6 words; questions run longer). */
const MIN_WORDS = 4;
const MAX_WORDS = 12;

/** Where the pseudo-queries come from, as the manifest's plan records it. */
export const PSEUDO_QUERY_SOURCE = `pseudo-queries: ${MIN_WORDS}-${MAX_WORDS} consecutive words of random documents, query model`;

/** `n` query texts cut from random documents of the doc blocks (fewer when the corpus has fewer documents). */
export async function pseudoQueryTexts(store: ObjectStore, blocks: DocBlockRef[], documents: number, n: number, seed: number): Promise<string[]> {
  const random = rng(seed);
  const picks = samplePositions(documents, Math.min(n, documents), random);
  const texts: string[] = [];
  let b = 0;
  for (const ordinal of picks) {
    while (ordinal >= blocks[b].first + blocks[b].count) b++;
    const doc = decodeDocBlock(await store.read(blocks[b]))[ordinal - blocks[b].first];
    const words = passageText(doc).split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    const len = Math.min(words.length, MIN_WORDS + Math.floor(random() * (MAX_WORDS - MIN_WORDS + 1)));
    const start = Math.floor(random() * (words.length - len + 1));
    texts.push(words.slice(start, start + len).join(" "));
  }
  return texts;
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
