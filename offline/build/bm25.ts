// The lexical part of a build: a BM25 inverted index over whole documents (title + " " + text, through the
// analyzer in src/text/analyzer.ts), written as hash buckets + a doc-length object (src/format/bm25.ts).
// It is made at the end of a build (or merge) from the doc blocks already written and checkpointed, so a resumed
// build gets exactly the same objects, and nothing is written under `<out>` before the whole directory verifies.
import {
  bucketOf, decodeDocBlock, encodeLexicalBucket, encodeLexicalNorms, type DocBlockRef, type LexicalSection, type ObjectRef,
} from "../../src/format/index.ts";
import { analyze, ANALYZER } from "../../src/text/analyzer.ts";
import { passageText } from "../../src/text/passages.ts";
import type { ObjectStore } from "./object-store.ts";

/** Bytes of postings aimed at per bucket: a query of a few terms reads a few objects of this size. */
export const TARGET_BUCKET_BYTES = 32 * 1024;

/**
 * Search defaults written into `lexical.fusion` when the model records none: use-lite's (zero-shot, tuned on SciFact
 * train; models/use-lite/model.json "fusionTuning").
 */
export const DEFAULT_FUSION: LexicalSection["fusion"] = { mode: "weighted", k: 60, weight: 0.43, depth: 100, normalization: "tmm" };

export interface LexicalOptions {
  k1?: number;
  b?: number;
  fusion?: Partial<LexicalSection["fusion"]>;
  defaultMode?: LexicalSection["defaultMode"];
  /** Target postings bytes per bucket (default TARGET_BUCKET_BYTES); the bucket count follows from it. */
  bucketBytes?: number;
}

/** An in-memory inverted index being filled document by document (ordinals in order from 0). */
export function createLexicalIndexer() {
  const postings = new Map<string, { docs: number[]; tfs: number[] }>();
  const lengths: number[] = [];
  return {
    add(doc: { title?: string; text: string }): void {
      const ord = lengths.length;
      const terms = analyze(passageText(doc));
      lengths.push(terms.length);
      const tf = new Map<string, number>();
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [t, n] of tf) {
        let p = postings.get(t);
        if (!p) postings.set(t, (p = { docs: [], tfs: [] }));
        p.docs.push(ord);
        p.tfs.push(n);
      }
    },
    postings,
    lengths,
  };
}

/**
 * Reads the doc blocks from `store` (in order), indexes them and writes the bucket and norm objects into it.
 * Returns the manifest section (its objects must also go into `manifest.objects`).
 */
export async function writeLexical(store: ObjectStore, blocks: DocBlockRef[], opts: LexicalOptions = {}): Promise<LexicalSection> {
  const ix = createLexicalIndexer();
  for (const ref of blocks) for (const doc of decodeDocBlock(await store.read(ref))) ix.add(doc);
  const docs = ix.lengths.length;
  // Bucket count from an estimate of the postings bytes (about 2.2 bytes per posting + the dictionary).
  let estimate = 0;
  for (const [t, p] of ix.postings) estimate += t.length + 4 + 2.2 * p.docs.length;
  const B = Math.max(1, Math.ceil(estimate / (opts.bucketBytes ?? TARGET_BUCKET_BYTES)));
  const groups: Array<Array<{ term: string; docs: number[]; tfs: number[] }>> = Array.from({ length: B }, () => []);
  for (const [term, p] of ix.postings) groups[bucketOf(term, B)].push({ term, ...p });
  const buckets: ObjectRef[] = [];
  for (let i = 0; i < B; i++) {
    buckets.push(await store.write("lexical", encodeLexicalBucket(i, B, groups[i]), { ext: "i3lb", count: groups[i].length }));
  }
  const norms = await store.write("lexical", encodeLexicalNorms(ix.lengths), { ext: "i3ln", count: docs });
  const total = ix.lengths.reduce((a, b) => a + b, 0);
  return {
    analyzer: { name: ANALYZER.name, version: ANALYZER.version },
    bm25: { k1: opts.k1 ?? 0.9, b: opts.b ?? 0.4 },
    documents: docs,
    avgDocLength: docs ? total / docs : 0,
    terms: ix.postings.size,
    hash: "fnv1a32",
    buckets,
    norms: { ...(norms as ObjectRef & { count: number }), encoding: "lucene-byte4" },
    fusion: { ...DEFAULT_FUSION, ...opts.fusion },
    defaultMode: opts.defaultMode ?? "hybrid",
  };
}

/** Every object of a lexical section, for `manifest.objects`. */
export function lexicalObjects(s: LexicalSection): ObjectRef[] {
  const { encoding: _, ...norms } = s.norms;
  return [...s.buckets, norms];
}
