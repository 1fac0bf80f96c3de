// A search's `filter`: checked against the index's declared fields (400 `invalid_filter`), then compiled once per
// index version and filter into the bitset of matching documents, kept in the isolate cache.
import { sortKeys } from "../../format/json";
import { FilterError, matchDocuments, parseFilter, type DocFilter, type FilterNode } from "../../search/filter";
import { versionDocs, versionFilter } from "../../search/segments";
import { ApiError } from "../http-error";
import type { ByteCache } from "../store/byte-cache";
import type { IndexReaders, LoadedIndex } from "../store/loaded-index";

/** A request's filter, checked against the index's fields; undefined without one. */
export function requestFilter(filter: Record<string, unknown> | undefined, idx: LoadedIndex): { node: FilterNode; key: string } | undefined {
  if (filter === undefined) return undefined;
  const schema = idx.manifest.fields?.schema;
  if (!schema) {
    throw new ApiError(400, "invalid_filter", `"filter": ${idx.tenant}/${idx.index} declares no filterable fields (build it with i3 build --fields)`);
  }
  try {
    return { node: parseFilter(filter, schema), key: JSON.stringify(sortKeys(filter)) };
  } catch (e) {
    if (e instanceof FilterError) throw new ApiError(400, "invalid_filter", e.message, { cause: e });
    throw e;
  }
}

/**
 * The documents the filter matches in this version (from the isolate cache when the same filter ran before): in an
 * updated version, in the base and the delta, less the deleted documents.
 */
export async function filterDocuments(f: { node: FilterNode; key: string }, idx: LoadedIndex, readers: IndexReaders, cache: ByteCache): Promise<DocFilter> {
  const key = `filter:${idx.tenant}/${idx.index}@${idx.version}:${f.key}`;
  const hit = cache.get<DocFilter>(key);
  if (hit) return hit;
  const fields = readers.fields!;
  const base = matchDocuments(f.node, await fields.columns());
  const m = idx.manifest;
  const filter = m.delta || idx.tombstones
    ? versionFilter(base, fields.deltaColumns && matchDocuments(f.node, await fields.deltaColumns()), versionDocs(m, idx.tombstones))
    : base;
  cache.set(key, filter, filter.bits.byteLength + key.length);
  return filter;
}
