// Corpus reading: one JSON document per line, streamed with bounded memory (one line at a time).
// Accepts BEIR (`{_id, title, text, metadata?}`) and plain JSONL (`{id, title?, text, metadata?}`); a directory
// means its `corpus.jsonl` (the BEIR layout). Every line is validated; problems throw BuildError("invalid_corpus")
// naming the file and the 1-based line number.
//
// Policy:
// - bytes must be UTF-8 (fatal decoder per line); a leading BOM on line 1 and a trailing "\r" are dropped;
// - blank lines (only whitespace) are skipped and are not documents;
// - id: `_id` or `id`, a non-empty string (an integer is accepted and becomes its decimal string); unique in the file;
// - text: a string, required; it may be empty when the title is not (title-only documents are indexed by their
//   title); a document whose title and text are both empty or whitespace is an error, or, with `skipEmpty`, skipped
//   (and reported through `onSkip`);
// - title: a string, or absent / null; metadata: an object, or absent / null. Other fields are ignored.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import type { Doc, FieldSpec } from "../../src/format/index.ts";
import { BuildError } from "./errors.ts";
import { checkDocFields } from "./fields.ts";

/** One document of the corpus and where it came from. */
export interface CorpusDoc {
  /** 1-based line number in the file. */
  line: number;
  doc: Doc;
}

/** `dir/corpus.jsonl` for a BEIR directory, the path itself for a file. */
export async function resolveCorpusPath(p: string): Promise<string> {
  let s;
  try {
    s = await stat(p);
  } catch {
    throw new BuildError("invalid_corpus", `corpus ${p}: not found`);
  }
  if (!s.isDirectory()) return p;
  const file = path.join(p, "corpus.jsonl");
  try {
    await stat(file);
  } catch {
    throw new BuildError("invalid_corpus", `corpus ${p}: a directory without corpus.jsonl (expected the BEIR layout)`);
  }
  return file;
}

/** Raw lines as bytes (without the "\n"), with their 1-based numbers. Memory: one chunk plus one line. */
export async function* readLines(file: string): AsyncGenerator<{ line: number; bytes: Buffer }> {
  let carry: Buffer[] = [];
  let line = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      const bytes = carry.length ? Buffer.concat([...carry, piece]) : piece;
      carry = [];
      yield { line: ++line, bytes };
      start = nl + 1;
    }
    if (start < chunk.length) carry.push(chunk.subarray(start));
  }
  if (carry.length) yield { line: ++line, bytes: Buffer.concat(carry) };
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** True when a document has neither title nor text (only whitespace): nothing to index. */
export function isEmptyDoc(doc: { title?: string; text: string }): boolean {
  return doc.text.trim() === "" && (doc.title ?? "").trim() === "";
}

/** Parses and validates one line; `undefined` for a blank line. An empty document is an error unless `allowEmpty`. */
export function parseDocLine(file: string, line: number, bytes: Uint8Array, opts: { allowEmpty?: boolean } = {}): Doc | undefined {
  const bad = (msg: string) => new BuildError("invalid_corpus", `${file}:${line}: ${msg}`);
  let s: string;
  try {
    s = utf8.decode(bytes);
  } catch {
    const at = firstBadUtf8(bytes);
    throw bad(`invalid UTF-8 at byte ${at} of the line`);
  }
  if (line === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  if (s.endsWith("\r")) s = s.slice(0, -1);
  if (s.trim() === "") return undefined;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch (e) {
    throw bad(`malformed JSON (${(e as Error).message})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw bad("expected a JSON object");
  const o = v as Record<string, unknown>;
  const rawId = o._id !== undefined ? o._id : o.id;
  let id: string;
  if (typeof rawId === "string") id = rawId;
  else if (typeof rawId === "number" && Number.isSafeInteger(rawId)) id = String(rawId);
  else if (rawId === undefined || rawId === null) throw bad(`missing id (expected "_id" or "id")`);
  else throw bad(`id must be a string, got ${JSON.stringify(rawId)}`);
  if (id === "") throw bad("empty id");
  if (o.text === undefined || o.text === null) throw bad(`document ${JSON.stringify(id)}: missing "text"`);
  if (typeof o.text !== "string") throw bad(`document ${JSON.stringify(id)}: "text" must be a string`);
  const title = o.title === undefined || o.title === null ? undefined : o.title;
  if (title !== undefined && typeof title !== "string") throw bad(`document ${JSON.stringify(id)}: "title" must be a string`);
  const meta = o.metadata === undefined || o.metadata === null ? undefined : o.metadata;
  if (meta !== undefined && (typeof meta !== "object" || Array.isArray(meta))) {
    throw bad(`document ${JSON.stringify(id)}: "metadata" must be an object`);
  }
  const doc: Doc = { id, text: o.text };
  if (title !== undefined) doc.title = title;
  if (meta !== undefined) doc.metadata = meta as Record<string, unknown>;
  if (!opts.allowEmpty && isEmptyDoc(doc)) throw bad(`document ${JSON.stringify(id)}: empty text and no title (i3 build --skip-empty skips such documents)`);
  return doc;
}

function firstBadUtf8(bytes: Uint8Array): number {
  // Binary search for the longest valid prefix is overkill; walk the sequences.
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0 || i + n > bytes.length) return i;
    try {
      utf8.decode(bytes.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return i;
}

/** How `readCorpus` treats ids and empty documents. */
export interface ReadCorpusOptions {
  /** Check that ids are unique (default true). */
  checkIds?: boolean;
  /** Skip documents whose title and text are both empty instead of failing (default false). */
  skipEmpty?: boolean;
  /** Called for each skipped empty document. */
  onSkip?: (skipped: CorpusDoc) => void;
  /** Declared filterable fields: each document's metadata values are checked against their types. */
  fields?: readonly FieldSpec[];
}

/** Reads the whole corpus once, validating every line; returns the number of documents (stops after `limit`). */
export async function validateCorpus(file: string, limit = Infinity, opts: ReadCorpusOptions = {}): Promise<number> {
  let n = 0;
  for await (const _ of readCorpus(file, opts)) if (++n >= limit) break;
  return n;
}

/**
 * Streams the documents of a corpus file, validating every line (including duplicate ids: a Set of every id
 * seen, so memory grows with the number of documents, ~50-100 bytes per id; `checkIds: false` skips it). Skipped
 * empty documents still count for id uniqueness.
 *
 * @example
 * for await (const { line, doc } of readCorpus("data/scifact/corpus.jsonl")) console.log(line, doc.id);
 */
export async function* readCorpus(file: string, opts: ReadCorpusOptions = {}): AsyncGenerator<CorpusDoc> {
  const ids = new Set<string>();
  const checkIds = opts.checkIds ?? true;
  for await (const { line, bytes } of readLines(file)) {
    const doc = parseDocLine(file, line, bytes, { allowEmpty: opts.skipEmpty });
    if (!doc) continue;
    if (checkIds) {
      if (ids.has(doc.id)) throw new BuildError("invalid_corpus", `${file}:${line}: duplicate id ${JSON.stringify(doc.id)}`);
      ids.add(doc.id);
    }
    if (opts.skipEmpty && isEmptyDoc(doc)) {
      opts.onSkip?.({ line, doc });
      continue;
    }
    if (opts.fields) checkDocFields(file, line, doc, opts.fields);
    yield { line, doc };
  }
}
