/**
 * BEIR directory: the paths of corpus.jsonl, queries.jsonl and qrels/<split>.tsv, and the query and qrels readers.
 * The corpus is read by the build's reader (offline/build/corpus.ts), the one reader of documents.
 *
 * Layout (https://github.com/beir-cellar/beir):
 *   corpus.jsonl   one JSON object per line: {"_id", "title", "text"}
 *   queries.jsonl  one JSON object per line: {"_id", "text"}
 *   qrels/<split>.tsv  "query-id<TAB>corpus-id<TAB>score", first line is a header
 *
 * Every malformed line is reported as `BeirFormatError` naming the file and the 1-based line number.
 */
import { CodedError } from "../../src/errors.ts";
import { createReadStream, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

export interface Query {
  id: string;
  text: string;
}
/** qrels[queryId][docId] = relevance grade (integer; <= 0 means judged non-relevant). */
export type Qrels = Map<string, Map<string, number>>;

/** A queries or qrels line that cannot be read; the message names file and line. */
export class BeirFormatError extends CodedError<"invalid_beir"> {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super("invalid_beir", `${file}:${line}: ${message}`);
  }
}

export interface BeirPaths {
  corpus: string;
  queries: string;
  qrels: string;
}

/** Resolves and checks the three files of a BEIR directory; throws with the missing path named. */
export function beirPaths(dir: string, split = "test", opts: { corpus?: boolean } = {}): BeirPaths {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`BEIR directory not found: ${dir}`);
  }
  const p: BeirPaths = {
    corpus: join(dir, "corpus.jsonl"),
    queries: join(dir, "queries.jsonl"),
    qrels: join(dir, "qrels", `${split}.tsv`),
  };
  for (const [what, path] of Object.entries(p)) {
    if (what === "corpus" && opts.corpus === false) continue;
    if (!existsSync(path)) {
      throw new Error(`BEIR ${what} file not found: ${path}` + (what === "qrels" ? ` (split "${split}")` : ""));
    }
  }
  return p;
}

async function* lines(file: string): AsyncGenerator<[string, number]> {
  const rl = createInterface({ input: createReadStream(file, { encoding: "utf8" }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    yield [line, n];
  }
}

function parseJsonLine(file: string, line: string, n: number): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw new BeirFormatError(file, n, `invalid JSON (${(e as Error).message})`);
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new BeirFormatError(file, n, "expected a JSON object");
  }
  return obj as Record<string, unknown>;
}

function idOf(file: string, n: number, obj: Record<string, unknown>): string {
  const id = obj._id;
  if (typeof id === "string" && id.length > 0) return id;
  if (typeof id === "number") return String(id);
  throw new BeirFormatError(file, n, `missing or invalid "_id"`);
}

function strField(file: string, n: number, obj: Record<string, unknown>, key: string): string {
  const v = obj[key];
  if (v === undefined || v === null) throw new BeirFormatError(file, n, `missing "${key}"`);
  if (typeof v !== "string") throw new BeirFormatError(file, n, `"${key}" must be a string`);
  return v;
}

/** The JSON records of a BEIR JSONL file with their ids and line numbers; blank lines skipped, duplicate ids an error. */
async function* records(file: string): AsyncGenerator<{ obj: Record<string, unknown>; id: string; n: number }> {
  const seen = new Set<string>();
  for await (const [line, n] of lines(file)) {
    if (line.trim() === "") continue;
    const obj = parseJsonLine(file, line, n);
    const id = idOf(file, n, obj);
    if (seen.has(id)) throw new BeirFormatError(file, n, `duplicate _id "${id}"`);
    seen.add(id);
    yield { obj, id, n };
  }
}

export async function readQueries(file: string): Promise<Query[]> {
  const out: Query[] = [];
  for await (const { obj, id, n } of records(file)) out.push({ id, text: strField(file, n, obj, "text") });
  return out;
}

/**
 * Reads a qrels TSV. The first line is a header if its third field is not an integer (BEIR writes
 * `query-id corpus-id score`). Also accepts the 4-column TREC form `qid 0 docid rel` (whitespace separated).
 */
export async function readQrels(file: string): Promise<Qrels> {
  const qrels: Qrels = new Map();
  for await (const [line, n] of lines(file)) {
    if (line.trim() === "") continue;
    const f = line.includes("\t") ? line.split("\t").map((s) => s.trim()) : line.trim().split(/\s+/);
    let qid: string, did: string, rel: string;
    if (f.length === 3) [qid, did, rel] = f;
    else if (f.length === 4) [qid, , did, rel] = f;
    else throw new BeirFormatError(file, n, `expected 3 tab-separated fields (query-id, corpus-id, score), got ${f.length}`);
    if (!/^-?\d+$/.test(rel)) {
      if (n === 1) continue; // header
      throw new BeirFormatError(file, n, `score must be an integer, got "${rel}"`);
    }
    if (!qid || !did) throw new BeirFormatError(file, n, "empty query-id or corpus-id");
    let m = qrels.get(qid);
    if (!m) qrels.set(qid, (m = new Map()));
    m.set(did, Number(rel));
  }
  return qrels;
}
