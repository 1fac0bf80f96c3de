import {
  decodeLexicalBucket, decodeLexicalNorms, FormatError, type DeltaLexical, type LexicalBucket, type LexicalSection, type Manifest, type ObjectRef,
} from "../../format";
import { isKnownAnalyzer } from "../../text/analyzer";
import type { LexicalDelta, LexicalReader } from "../../search/bm25";
import type { ByteCache } from "./byte-cache";
import { cachedObject } from "./r2";
import type { Storage } from "./storage";

/**
 * The index's lexical section when this worker can search it: undefined when it has none, or one made by an analyzer
 * this worker does not implement (it is then searched densely only: documents and queries are never analyzed
 * differently).
 */
export function usableLexical(manifest: Manifest, tenant: string, index: string): LexicalSection | undefined {
  const section = manifest.lexical;
  if (!section) return undefined;
  if (!isKnownAnalyzer(section.analyzer)) {
    console.warn(`index ${tenant}/${index}: lexical analyzer ${JSON.stringify(section.analyzer)} is unknown to this worker; dense only`);
    return undefined;
  }
  return section;
}

/**
 * The lexical objects of one index version for one request: read on first use (colo cache, else R2, checked against
 * their sha256) and kept in the isolate cache, so a query loads only the buckets of its terms.
 */
export function lexicalReader(s: Storage, cache: ByteCache, tenant: string, index: string, section: LexicalSection): LexicalReader {
  return { section, ...segmentReader(s, cache, tenant, index, section) };
}

/** The BM25 objects of an updated version's delta (its own documents, from `first` in the version). */
export function deltaLexicalReader(s: Storage, cache: ByteCache, tenant: string, index: string, first: number, section: DeltaLexical): LexicalDelta {
  return { first, section, ...segmentReader(s, cache, tenant, index, section) };
}

/** Buckets and norms of one segment's BM25 objects, checked against its section. */
function segmentReader(s: Storage, cache: ByteCache, tenant: string, index: string, section: Pick<LexicalSection, "buckets" | "norms" | "documents">) {
  // Counted at twice their bytes: the bytes and the decoded dictionary.
  const cached = <T>(ref: ObjectRef, decode: (b: Uint8Array) => T) => cachedObject(s, cache, tenant, index, ref, decode, 2);
  return {
    bucket: (id: number) => cached<LexicalBucket>(section.buckets[id], (b) => {
      const d = decodeLexicalBucket(b, section.documents); // each posting checked against the count as a query reads it
      if (d.id !== id || d.buckets !== section.buckets.length) {
        throw new FormatError("invalid_object", `lexical bucket ${section.buckets[id].path}: header says ${d.id} of ${d.buckets}, manifest ${id} of ${section.buckets.length}`);
      }
      return d;
    }),
    norms: () => cached(section.norms, (b) => {
      const n = decodeLexicalNorms(b);
      if (n.length !== section.documents) throw new FormatError("invalid_object", `lexical norms: ${n.length} documents, manifest ${section.documents}`);
      return n;
    }),
  };
}
