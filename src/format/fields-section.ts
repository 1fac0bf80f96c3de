// The manifest's `fields` section (since 2.1): the filterable fields an index declares (`i3 build --fields`), their
// columns (src/format/field-columns.ts) and, for a partitioned index, the documents of each partition
// (src/format/partition-docs.ts). An index without it (any 1.x or 2.0 manifest) has no filterable fields.
import * as z from "zod";
import { FIELD_TYPES } from "./field-columns.ts";
import { matching, reject } from "./fields.ts";
import { objectRefOf } from "./objects.ts";

/** A field name: a letter or "_", then letters, digits or "_" (64 at most); never an operator like "$and". */
export const FIELD_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const FieldSpecSchema = z.object({
  name: matching(FIELD_NAME_PATTERN, "a field name"),
  type: z.enum(FIELD_TYPES, { error: FIELD_TYPES.join(", ") }),
});

/** The `fields` section; the columns' count equals `corpus.documents`, partitionDocs' the partitions (manifest rules). */
export const FieldsSectionSchema = z
  .object({
    /** The declared fields, in column order. */
    schema: z.array(FieldSpecSchema, { error: "a non-empty array" }).min(1, { error: "a non-empty array" }),
    /** The columns object (count = documents). */
    columns: objectRefOf("fields", { counted: true }),
    /** Partitioned indexes: the documents of each partition (count = partitions). */
    partitionDocs: objectRefOf("fields", { counted: true }).optional(),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.schema.forEach((f, i) => {
      if (seen.has(f.name)) reject(ctx, ["schema", i, "name"], "a unique field name", f.name);
      seen.add(f.name);
    });
  });

/** The manifest's `fields` section, as parsed. */
export type FieldsSection = z.output<typeof FieldsSectionSchema>;
