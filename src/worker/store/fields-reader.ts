import {
  checkFieldColumns, decodeFieldColumns, decodePartitionDocs, FormatError,
  type FieldColumns, type FieldsSection, type Manifest, type ObjectRef, type PartitionDocs,
} from "../../format";
import type { ByteCache } from "./byte-cache";
import { cachedObject } from "./r2";
import type { Storage } from "./storage";

/** The filterable fields of one index version: its columns, and (partitioned) the documents of each partition. */
export interface FieldsReader {
  section: FieldsSection;
  columns(): Promise<FieldColumns>;
  /** An updated version's delta: the columns of its documents (its own ordinals from 0). */
  deltaColumns?(): Promise<FieldColumns>;
  partitionDocs?(): Promise<PartitionDocs>;
}

/**
 * The field objects of one index version for one request: read on first use by a filtered query (colo cache, else
 * R2, checked against their sha256 and the manifest) and kept in the isolate cache, as the BM25 objects are.
 */
export function fieldsReader(s: Storage, cache: ByteCache, tenant: string, index: string, m: Manifest & { fields: FieldsSection }): FieldsReader {
  const cached = <T>(ref: ObjectRef, decode: (b: Uint8Array) => T) => cachedObject(s, cache, tenant, index, ref, decode);
  const section = m.fields;
  const pd = section.partitionDocs;
  return {
    section,
    columns: () => cached(section.columns, (b) => checkFieldColumns(section.schema, decodeFieldColumns(b), m.corpus.documents)),
    deltaColumns: deltaColumnsReader(m.delta, section, cached),
    partitionDocs: pd && (() => cached(pd, (b) => {
      const d = decodePartitionDocs(b);
      if (d.offsets.length !== m.partitions.length + 1 || d.documents !== m.corpus.documents) {
        throw new FormatError("invalid_object", `partition documents ${pd.path}: ${d.offsets.length - 1} partitions of ${d.documents} documents, manifest ${m.partitions.length} of ${m.corpus.documents}`);
      }
      return d;
    })),
  };
}

/** An updated version's delta columns (its documents from 0), checked against the schema; absent without a delta. */
function deltaColumnsReader(
  d: Manifest["delta"], section: FieldsSection, cached: <T>(ref: ObjectRef, decode: (b: Uint8Array) => T) => Promise<T>,
): (() => Promise<FieldColumns>) | undefined {
  const columns = d?.fields?.columns;
  if (!d || !columns) return undefined;
  return () => cached(columns, (b) => checkFieldColumns(section.schema, decodeFieldColumns(b), d.documents));
}
