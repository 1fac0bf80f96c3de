// Filterable fields of a build: declared with `--fields year:int,lang:keyword,tags:keyword[],published:date` or
// `--fields-file schema.json` ({"year": "int", ...}), read from each document's `metadata`, checked per document in
// the validation pass (a bad value names the file, the line and the field, before anything is written), and written
// at the end of the build from the doc blocks into the columns object (src/format/field-columns.ts).
import { readFile } from "node:fs/promises";
import {
  decodeDocBlock, encodeFieldColumns, encodePartitionDocs, FIELD_NAME_PATTERN, FIELD_TYPES,
  type Doc, type DocBlockRef, type FieldSpec, type FieldType, type FieldValue, type ObjectRef,
} from "../../src/format/index.ts";
import { EXPECTED, metadataValue } from "../../src/search/field-values.ts";
import { UsageError } from "../command.ts";
import { BuildError } from "./errors.ts";
import type { ObjectStore } from "./object-store.ts";

/** Fields an index may declare. */
export const MAX_FIELDS = 32;

/**
 * `year:int,lang:keyword,tags:keyword[]` as field specs; a UsageError on a bad name, type or a repeated name.
 *
 * @example
 * parseFieldsFlag("year:int,tags:keyword[]"); // [{ name: "year", type: "int" }, { name: "tags", type: "keyword[]" }]
 */
export function parseFieldsFlag(s: string): FieldSpec[] {
  const specs = s.split(",").map((part) => {
    const [name, type, ...rest] = part.trim().split(":");
    if (type === undefined || rest.length) throw new UsageError(`--fields: expected name:type, got ${JSON.stringify(part)}`);
    return { name, type };
  });
  return checkSpecs("--fields", specs);
}

/** A schema file: a JSON object of field name to type, `{"year": "int", "tags": "keyword[]"}`. */
export async function readFieldsFile(file: string): Promise<FieldSpec[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new UsageError(`--fields-file ${file}: ${(e as Error).message}`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UsageError(`--fields-file ${file}: expected a JSON object like {"year": "int"}`);
  return checkSpecs(`--fields-file ${file}`, Object.entries(json).map(([name, type]) => ({ name, type })));
}

function checkSpecs(what: string, specs: Array<{ name: string; type: unknown }>): FieldSpec[] {
  if (specs.length === 0 || specs.length > MAX_FIELDS) throw new UsageError(`${what}: 1 to ${MAX_FIELDS} fields, got ${specs.length}`);
  const seen = new Set<string>();
  for (const { name, type } of specs) {
    if (!FIELD_NAME_PATTERN.test(name)) throw new UsageError(`${what}: field name ${JSON.stringify(name)} must match ${FIELD_NAME_PATTERN}`);
    if (!(FIELD_TYPES as readonly unknown[]).includes(type)) throw new UsageError(`${what}: field ${name}: type must be one of ${FIELD_TYPES.join(", ")}, got ${JSON.stringify(type)}`);
    if (seen.has(name)) throw new UsageError(`${what}: field ${name} declared twice`);
    seen.add(name);
  }
  return specs as FieldSpec[];
}

/** The document's value of each field as the columns store it; `bad` when one is not of its field's type. */
function docValues(doc: Doc, fields: readonly FieldSpec[]): { values: FieldValue[]; bad?: { field: FieldSpec; got: unknown } } {
  const values: FieldValue[] = [];
  for (const field of fields) {
    const raw = doc.metadata?.[field.name];
    const v = metadataValue(field.type, raw);
    if (v === null) return { values, bad: { field, got: raw } };
    values.push(v);
  }
  return { values };
}

/**
 * Checks a corpus document's metadata against the fields: BuildError `invalid_corpus` naming the file, line,
 * document and field. A document without a field (or with null) is fine: it has no value there.
 */
export function checkDocFields(file: string, line: number, doc: Doc, fields: readonly FieldSpec[]): void {
  const { bad } = docValues(doc, fields);
  if (!bad) return;
  const shown = JSON.stringify(bad.got);
  throw new BuildError(
    "invalid_corpus",
    `${file}:${line}: document ${JSON.stringify(doc.id)}: metadata.${bad.field.name} must be ${EXPECTED[bad.field.type as FieldType]} (declared ${bad.field.type}), got ${shown.length > 80 ? shown.slice(0, 77) + "..." : shown}`,
  );
}

/**
 * Reads the doc blocks (in order) and writes the columns of `fields`; returns its reference (count = documents).
 * The documents were checked in the validation pass; a value that is not of its type here is a broken build.
 */
export async function writeFieldColumns(store: ObjectStore, blocks: DocBlockRef[], fields: readonly FieldSpec[]): Promise<ObjectRef> {
  const values: FieldValue[][] = [];
  for (const ref of blocks) {
    for (const doc of decodeDocBlock(await store.read(ref))) {
      const v = docValues(doc, fields);
      if (v.bad) throw new BuildError("invalid_build", `document ${JSON.stringify(doc.id)}: metadata.${v.bad.field.name} is not ${EXPECTED[v.bad.field.type]}`);
      values.push(v.values);
    }
  }
  return store.write("fields", encodeFieldColumns(fields, values), { ext: "i3fc", count: values.length });
}

/** Writes the documents of each partition (`members`: its rows, ascending; `docOf`: each row's document). */
export async function writePartitionDocs(store: ObjectStore, members: readonly Uint32Array[], docOf: Uint32Array, documents: number): Promise<ObjectRef> {
  const lists = members.map((rows) => {
    const docs: number[] = [];
    for (const r of rows) if (docs.length === 0 || docs[docs.length - 1] !== docOf[r]) docs.push(docOf[r]);
    return docs;
  });
  return store.write("fields", encodePartitionDocs(lists, documents), { ext: "i3pd", count: members.length });
}
