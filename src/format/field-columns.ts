// Filterable fields: the values of the fields an index declares (`i3 build --fields`), one column per field over the
// documents in ordinal order, in one object (manifest 2.1 `fields.columns`). Filters are per document, and a query's
// filter is compiled against every document at once (src/search/filter.ts), so one object per index, loaded whole.
// Sizes at N documents: an int N x 4 bytes, a date N x 8, a keyword N x 1, 2 or 4 (dictionary ids, the width the
// dictionary needs), a keyword[] (N + 1) x 4 offsets + ids; each column also has a presence bit per document.
//
// Header, FIELD_HEADER_BYTES = 32, little-endian:
//   offset size field
//   0      4    magic "I3FC"
//   4      2    u16 major version (1)
//   6      2    u16 minor version (0)
//   8      4    u32 header bytes (32)
//   12     4    u32 documents
//   16     4    u32 fields
//   20     4    u32 reserved (0)
//   24     4    u32 total bytes of the object
//   28     4    u32 CRC-32 of bytes 0..27
// Then one section per field, in schema order, each starting at a multiple of 8, every part padded to 8 bytes:
//   0  u32 section bytes   4 u8 type (1 int, 2 date, 3 keyword, 4 keyword[])   5 u8 id bytes (1, 2 or 4; 0: int, date)
//   6  u16 name bytes      8 u32 dictionary terms   12 u32 values (N; keyword[]: ids)   16 u32 dictionary bytes
//   20 u32 reserved (0)
//   24 name (UTF-8); presence bits (bit i of byte i >> 3: document i has a value); keyword[]: N + 1 u32 offsets into
//   the ids; values (int32, float64 ms since the epoch, or dictionary ids; 0 where absent); keyword types: the
//   dictionary, terms + 1 u32 offsets into its UTF-8 bytes, then the bytes (terms strictly ascending by code unit).
import { alignUp, checkPreamble, viewOf, writeHeaderCrc, writePreamble } from "./binary.ts";
import { FormatError } from "./errors.ts";

export const FIELD_MAGIC = "I3FC";
export const FIELD_HEADER_BYTES = 32;
const CRC_AT = 28;
const SECTION_HEADER = 24;
const WHAT = "field columns";

/** The value types a field may declare. */
export const FIELD_TYPES = ["int", "date", "keyword", "keyword[]"] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
const TYPE_CODE: Record<FieldType, number> = { int: 1, date: 2, keyword: 3, "keyword[]": 4 };

/** A declared field: what `--fields year:int` makes and the manifest lists. */
export interface FieldSpec {
  name: string;
  type: FieldType;
}

type Ids = Uint8Array | Uint16Array | Uint32Array;

/** One decoded column. `present[i >> 3] & (1 << (i & 7))`: document i has a value. */
export type Column =
  | { name: string; type: "int"; present: Uint8Array; values: Int32Array }
  | { name: string; type: "date"; present: Uint8Array; values: Float64Array }
  | { name: string; type: "keyword"; present: Uint8Array; ids: Ids; dict: string[] }
  | { name: string; type: "keyword[]"; present: Uint8Array; offsets: Uint32Array; ids: Ids; dict: string[] };

/** The decoded object: a column per declared field, in schema order. */
export interface FieldColumns {
  documents: number;
  columns: Column[];
}

/** One document's values: a number (int; date as ms since the epoch), a string, or strings; undefined when absent. */
export type FieldValue = number | string | string[] | undefined;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Writes the columns of `fields` from each document's values (`values[d][f]` for document d, field f, already
 * validated: int an int32, date a finite number, keyword a string, keyword[] strings).
 *
 * @example
 * const bytes = encodeFieldColumns([{ name: "year", type: "int" }], [[2020], [undefined]]);
 */
export function encodeFieldColumns(fields: readonly FieldSpec[], values: readonly (readonly FieldValue[])[]): Uint8Array {
  const sections = fields.map((f, i) => encodeSection(f, values.map((v) => v[i])));
  const total = FIELD_HEADER_BYTES + sections.reduce((n, s) => n + s.length, 0);
  const out = new Uint8Array(total);
  writePreamble(out, FIELD_MAGIC);
  const dv = viewOf(out);
  dv.setUint32(8, FIELD_HEADER_BYTES, true);
  dv.setUint32(12, values.length, true);
  dv.setUint32(16, fields.length, true);
  dv.setUint32(24, total, true);
  writeHeaderCrc(out, CRC_AT);
  let at = FIELD_HEADER_BYTES;
  for (const s of sections) {
    out.set(s, at);
    at += s.length;
  }
  return out;
}

/** Appends parts, each padded to 8 bytes. */
function concat8(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + alignUp(p.length, 8), 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += alignUp(p.length, 8);
  }
  return out;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function idArray(width: number, n: number): Ids {
  return width === 1 ? new Uint8Array(n) : width === 2 ? new Uint16Array(n) : new Uint32Array(n);
}

function encodeSection(f: FieldSpec, vals: readonly FieldValue[]): Uint8Array {
  const n = vals.length;
  const present = new Uint8Array(Math.ceil(n / 8));
  vals.forEach((v, i) => {
    if (v !== undefined) present[i >> 3] |= 1 << (i & 7);
  });
  const name = enc.encode(f.name);
  let body: Uint8Array[];
  let width = 0, terms = 0, count = n, dictBytes = 0;
  if (f.type === "int") body = [bytesOf(Int32Array.from(vals, (v) => (v as number | undefined) ?? 0))];
  else if (f.type === "date") body = [bytesOf(Float64Array.from(vals, (v) => (v as number | undefined) ?? 0))];
  else {
    const lists = vals.map((v) => (v === undefined ? [] : typeof v === "string" ? [v] : (v as string[])));
    const dict = [...new Set(lists.flat())].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const idOf = new Map(dict.map((t, i) => [t, i]));
    terms = dict.length;
    width = terms <= 0x100 ? 1 : terms <= 0x10000 ? 2 : 4;
    const parts: Uint8Array[] = [];
    if (f.type === "keyword[]") {
      const offsets = new Uint32Array(n + 1);
      lists.forEach((l, i) => (offsets[i + 1] = offsets[i] + l.length));
      parts.push(bytesOf(offsets));
      count = offsets[n];
    }
    const ids = idArray(width, count);
    let j = 0;
    for (const l of lists) for (const t of l) ids[j++] = idOf.get(t)!;
    if (f.type === "keyword") for (let i = 0; i < n; i++) ids[i] = lists[i].length ? idOf.get(lists[i][0])! : 0;
    parts.push(bytesOf(ids));
    const strings = dict.map((t) => enc.encode(t));
    const dictOffsets = new Uint32Array(terms + 1);
    strings.forEach((s, i) => (dictOffsets[i + 1] = dictOffsets[i] + s.length));
    dictBytes = dictOffsets[terms];
    const blob = new Uint8Array(dictBytes);
    strings.forEach((s, i) => blob.set(s, dictOffsets[i]));
    body = [...parts, bytesOf(dictOffsets), blob];
  }
  const head = new Uint8Array(SECTION_HEADER);
  const section = concat8([head, name, present, ...body]);
  const dv = viewOf(section);
  dv.setUint32(0, section.length, true);
  section[4] = TYPE_CODE[f.type];
  section[5] = width;
  dv.setUint16(6, name.length, true);
  dv.setUint32(8, terms, true);
  dv.setUint32(12, count, true);
  dv.setUint32(16, dictBytes, true);
  return section;
}

/**
 * Decodes the object, checking every offset, count and id against its bounds; `FormatError` (`bad_magic`,
 * `unsupported_version`, `checksum_mismatch`, `truncated`, `invalid_object`) on any inconsistency.
 *
 * @example
 * const { columns } = decodeFieldColumns(bytes);
 */
export function decodeFieldColumns(bytes: Uint8Array): FieldColumns {
  checkPreamble(WHAT, bytes, FIELD_MAGIC, CRC_AT);
  const dv = viewOf(bytes);
  const headerBytes = dv.getUint32(8, true);
  const documents = dv.getUint32(12, true);
  const fields = dv.getUint32(16, true);
  const total = dv.getUint32(24, true);
  if (bytes.byteLength !== total) throw new FormatError("truncated", `${WHAT}: header says ${total} bytes, object has ${bytes.byteLength}`);
  if (headerBytes < FIELD_HEADER_BYTES || headerBytes % 8 !== 0) throw bad(`header bytes ${headerBytes}`);
  const columns: Column[] = [];
  let at = headerBytes;
  for (let f = 0; f < fields; f++) {
    const r = reader(bytes, at, `field ${f}`);
    const size = r.u32(0);
    if (size < SECTION_HEADER || size % 8 !== 0 || at + size > total) throw bad(`field ${f}: section of ${size} bytes at ${at} in ${total}`);
    columns.push(decodeSection(reader(bytes.subarray(0, at + size), at, `field ${f}`), documents));
    at += size;
  }
  if (at !== total) throw bad(`sections end at ${at}, object at ${total}`);
  return { documents, columns };
}

function bad(msg: string): FormatError {
  return new FormatError("invalid_object", `${WHAT}: ${msg}`);
}

/** A bounds-checked cursor over one section (`end` = the section's end). */
function reader(bytes: Uint8Array, start: number, what: string) {
  const dv = viewOf(bytes);
  const end = bytes.byteLength;
  let pos = start + SECTION_HEADER;
  const take = (n: number): number => {
    if (pos + n > end) throw bad(`${what}: runs past its section (${pos + n} > ${end})`);
    const p = pos;
    pos = alignUp(pos + n, 8);
    return p;
  };
  /** A typed array over the next `n` elements (a view when aligned, else a copy). */
  const array = <T extends ArrayBufferView>(Ctor: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T => {
    const p = take(n * Ctor.BYTES_PER_ELEMENT);
    const abs = bytes.byteOffset + p;
    if (abs % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(bytes.buffer, abs, n);
    const copy = bytes.slice(p, p + n * Ctor.BYTES_PER_ELEMENT);
    return new Ctor(copy.buffer, 0, n);
  };
  return {
    what,
    u32: (o: number) => (start + o + 4 <= end ? dv.getUint32(start + o, true) : 0),
    u16: (o: number) => dv.getUint16(start + o, true),
    u8: (o: number) => bytes[start + o],
    bytes: (n: number) => {
      const p = take(n);
      return bytes.subarray(p, p + n);
    },
    array,
    end: () => pos === end,
  };
}

type Reader = ReturnType<typeof reader>;

const TYPES_BY_CODE: Record<number, FieldType> = { 1: "int", 2: "date", 3: "keyword", 4: "keyword[]" };

function decodeSection(r: Reader, n: number): Column {
  const type = TYPES_BY_CODE[r.u8(4)];
  if (!type) throw bad(`${r.what}: unknown type code ${r.u8(4)}`);
  const width = r.u8(5);
  const nameLen = r.u16(6);
  const terms = r.u32(8);
  const count = r.u32(12);
  const dictBytes = r.u32(16);
  const name = utf8(r.bytes(nameLen), r.what);
  const what = `field ${JSON.stringify(name)}`;
  const present = r.array(Uint8Array, Math.ceil(n / 8));
  if (type === "int" || type === "date") {
    if (width !== 0 || terms !== 0 || count !== n || dictBytes !== 0) throw bad(`${what}: a ${type} column with ids, a dictionary or ${count} values for ${n} documents`);
    const values = type === "int" ? r.array(Int32Array, n) : r.array(Float64Array, n);
    if (type === "date") for (let i = 0; i < n; i++) if (!Number.isFinite(values[i])) throw bad(`${what}: date of document ${i} is not finite`);
    if (!r.end()) throw bad(`${what}: bytes after its values`);
    return type === "int" ? { name, type, present, values: values as Int32Array } : { name, type, present, values: values as Float64Array };
  }
  if (width !== 1 && width !== 2 && width !== 4) throw bad(`${what}: id width ${width}`);
  let offsets: Uint32Array | undefined;
  if (type === "keyword[]") {
    offsets = r.array(Uint32Array, n + 1);
    if (offsets[0] !== 0 || offsets[n] !== count) throw bad(`${what}: offsets span ${offsets[0]}..${offsets[n]}, expected 0..${count}`);
    for (let i = 0; i < n; i++) if (offsets[i + 1] < offsets[i]) throw bad(`${what}: offset ${i + 1} below offset ${i}`);
  } else if (count !== n) throw bad(`${what}: ${count} values for ${n} documents`);
  const ids = width === 1 ? r.array(Uint8Array, count) : width === 2 ? r.array(Uint16Array, count) : r.array(Uint32Array, count);
  for (let i = 0; i < count; i++) {
    const counts = type === "keyword[]" || hasBit(present, i);
    if (counts && ids[i] >= terms) throw bad(`${what}: id ${ids[i]} beyond its ${terms} terms`);
  }
  if (offsets) for (let i = 0; i < n; i++) if (!hasBit(present, i) && offsets[i + 1] !== offsets[i]) throw bad(`${what}: document ${i} has ids but no value`);
  const dictOffsets = r.array(Uint32Array, terms + 1);
  const blob = r.bytes(dictBytes);
  if (!r.end()) throw bad(`${what}: bytes after its dictionary`);
  if (dictOffsets[0] !== 0 || dictOffsets[terms] !== dictBytes) throw bad(`${what}: dictionary offsets span ${dictOffsets[0]}..${dictOffsets[terms]}, expected 0..${dictBytes}`);
  const dict: string[] = [];
  for (let t = 0; t < terms; t++) {
    if (dictOffsets[t + 1] < dictOffsets[t]) throw bad(`${what}: dictionary offset ${t + 1} below offset ${t}`);
    const s = utf8(blob.subarray(dictOffsets[t], dictOffsets[t + 1]), what);
    if (t > 0 && !(dict[t - 1] < s)) throw bad(`${what}: dictionary terms not strictly ascending at ${t}`);
    dict.push(s);
  }
  return type === "keyword" ? { name, type, present, ids, dict } : { name, type, present, offsets: offsets!, ids, dict };
}

function utf8(b: Uint8Array, what: string): string {
  try {
    return dec.decode(b);
  } catch {
    throw bad(`${what}: a name or term is not UTF-8`);
  }
}

/** Whether document `i` has a value in the column. */
export function hasValue(c: Column, i: number): boolean {
  return hasBit(c.present, i);
}

function hasBit(bits: Uint8Array, i: number): boolean {
  return (bits[i >> 3] & (1 << (i & 7))) !== 0;
}

/**
 * Checks decoded columns against the manifest: the same fields in the same order, over `documents` documents.
 * Throws FormatError `invalid_object`.
 */
export function checkFieldColumns(schema: readonly FieldSpec[], cols: FieldColumns, documents: number): FieldColumns {
  const got = cols.columns.map((c) => `${c.name}:${c.type}`).join(",");
  const want = schema.map((f) => `${f.name}:${f.type}`).join(",");
  if (got !== want || cols.documents !== documents) throw bad(`${got} over ${cols.documents} documents, manifest ${want} over ${documents}`);
  return cols;
}
