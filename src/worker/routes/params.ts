// Path parameters of the API, validated by the index format's own patterns (src/format/r2-keys.ts), so a name that
// passes here is one the format's key functions accept; a malformed one is 400 `invalid_name`.
import { z } from "@hono/zod-openapi";
import { quoted } from "../../errors";
import { NAME_PATTERN, OBJECT_PATH_PATTERN, VERSION_PATTERN } from "../../format";

/** The path of an index: the prefix of its search and publishing routes. */
export const INDEX_PATH = "/v1/tenants/{tenant}/indexes/{index}";

/** An object's name in its route: OBJECT_PATH_PATTERN without the `objects/` directory. */
const OBJECT_NAME_PATTERN = new RegExp(OBJECT_PATH_PATTERN.source.replace("^objects\\/", "^"));
/** A manifest's version in its route: VERSION_PATTERN, `.json` allowed. */
const MANIFEST_NAME_PATTERN = new RegExp(VERSION_PATTERN.source.replace(/\$$/, "(?:\\.json)?$"));

/** A string path parameter matching `pattern`; the message says which name, what was expected and what came. */
function named(what: string, pattern: RegExp, expected: string, example: string) {
  return z
    .string()
    .regex(pattern, { error: (iss) => `${what}: expected ${expected}, got ${quoted(iss.input)}` })
    .openapi({ description: `${what}: ${expected}`, example });
}

const lowerName = "lower-case letters, digits, _ or -, 1 to 63 characters, starting with a letter or digit";

/** `{tenant}` and `{index}`. */
export const IndexParams = z.object({
  tenant: named("tenant name", NAME_PATTERN, lowerName, "demo"),
  index: named("index name", NAME_PATTERN, lowerName, "scifact"),
});

/** `{tenant}`, `{index}` and an object's `{name}` (`<sha256>.<ext>`). */
export const ObjectParams = IndexParams.extend({
  name: named("object name", OBJECT_NAME_PATTERN, "<sha256 of the bytes, 64 lower-case hex>.<ext>", `${"0".repeat(64)}.i3vs`),
});

/** `{tenant}`, `{index}` and a manifest's `{version}` (`<16 hex>` or `<16 hex>.json`). */
export const ManifestParams = IndexParams.extend({
  version: named("manifest version", MANIFEST_NAME_PATTERN, "the first 16 hex characters of the manifest's sha256 (.json optional)", "0123456789abcdef"),
});

/** The version of a `{version}` parameter (without `.json`). */
export const versionOf = (param: string) => param.replace(/\.json$/, "");
