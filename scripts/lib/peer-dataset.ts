/**
 * The data set of one peer benchmark run: base vectors, held-out queries and their exact top-k, cached in one file
 * so that every peer (each in its own process) reads identical vectors and the exact search runs once.
 *
 * File layout: "I3PEERS1" (8 bytes), u32 LE length of the JSON spec, the spec, zero padding to a multiple of 4,
 * then base (n x dims f32), queries (queries x dims f32), truth ids (queries x k u32), truth scores (queries x k f32),
 * all little-endian (typed arrays on a little-endian host).
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { exactTopK } from "./exact.ts";
import { syntheticVectors, type SyntheticOptions } from "./synthetic.ts";

const MAGIC = "I3PEERS1";
/** Bump when the generator or the layout changes, so stale cache files are not reused. */
const GENERATOR_VERSION = 1;
const CHUNK = 1 << 26; // bytes per read/write call (fs calls take at most 2 GiB)

export interface DatasetSpec extends SyntheticOptions {
  n: number;
  queries: number;
  k: number;
}

export interface PeerDataset {
  spec: DatasetSpec;
  base: Float32Array;
  queries: Float32Array;
  /** Exact top-k row ids of query q at [q * k, (q + 1) * k), best first. */
  truth: Uint32Array;
  truthScores: Float32Array;
}

/** The cache file name of a spec: every field that changes the contents is in it. */
export function datasetFileName(s: DatasetSpec): string {
  const shape = s.distribution === "clustered" ? `-c${s.clusters}-p${s.spread}` : "";
  return `${s.distribution}${shape}-n${s.n}-d${s.dims}-q${s.queries}-k${s.k}-s${s.seed}-v${GENERATOR_VERSION}.bin`;
}

/** Generates the vectors and the exact top-k of every query. */
export function createDataset(spec: DatasetSpec, log: (line: string) => void): PeerDataset {
  let t = performance.now();
  const base = syntheticVectors(spec.n, "base", spec);
  const queries = syntheticVectors(spec.queries, "queries", spec);
  log(`generated ${spec.n} + ${spec.queries} ${spec.distribution} vectors in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const truth = new Uint32Array(spec.queries * spec.k);
  const truthScores = new Float32Array(spec.queries * spec.k);
  for (let q = 0; q < spec.queries; q++) {
    const hits = exactTopK(base, spec.n, spec.dims, queries.subarray(q * spec.dims, (q + 1) * spec.dims), spec.k);
    truth.set(hits.ids, q * spec.k);
    truthScores.set(hits.scores, q * spec.k);
  }
  log(`exact top-${spec.k} of ${spec.queries} queries in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return { spec, base, queries, truth, truthScores };
}

/** The data set of `spec` from `dir`, created and written there first when absent. Returns it and its path. */
export function loadOrCreateDataset(dir: string, spec: DatasetSpec, log: (line: string) => void): { path: string; data: PeerDataset } {
  const path = join(dir, datasetFileName(spec));
  if (existsSync(path)) {
    log(`data set: ${path} (cached)`);
    return { path, data: readDataset(path) };
  }
  const data = createDataset(spec, log);
  mkdirSync(dir, { recursive: true });
  writeDataset(`${path}.tmp`, data);
  renameSync(`${path}.tmp`, path);
  log(`data set: ${path}`);
  return { path, data };
}

function sections(d: PeerDataset): ArrayBufferView[] {
  return [d.base, d.queries, d.truth, d.truthScores];
}

function headerBytes(spec: DatasetSpec): Buffer {
  const json = Buffer.from(JSON.stringify(spec));
  const head = Buffer.alloc(Math.ceil((12 + json.length) / 4) * 4);
  head.write(MAGIC, 0, "latin1");
  head.writeUInt32LE(json.length, 8);
  json.copy(head, 12);
  return head;
}

/** Writes a data set file (see the layout above). */
export function writeDataset(path: string, d: PeerDataset): void {
  const fd = openSync(path, "w");
  try {
    writeSync(fd, headerBytes(d.spec));
    for (const s of sections(d)) {
      const bytes = new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
      for (let off = 0; off < bytes.length; off += CHUNK) writeSync(fd, bytes, off, Math.min(CHUNK, bytes.length - off));
    }
  } finally {
    closeSync(fd);
  }
}

function readExactly(fd: number, into: ArrayBufferView, position: number): number {
  const bytes = new Uint8Array(into.buffer, into.byteOffset, into.byteLength);
  for (let off = 0; off < bytes.length; ) {
    const got = readSync(fd, bytes, off, Math.min(CHUNK, bytes.length - off), position + off);
    if (got === 0) throw new Error(`data set file ends early (wanted ${bytes.length} bytes at ${position})`);
    off += got;
  }
  return position + bytes.length;
}

/** Reads a data set file written by writeDataset. */
export function readDataset(path: string): PeerDataset {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(12);
    readExactly(fd, head, 0);
    if (head.toString("latin1", 0, 8) !== MAGIC) throw new Error(`${path} is not a peer data set (magic ${JSON.stringify(head.toString("latin1", 0, 8))})`);
    const json = Buffer.alloc(head.readUInt32LE(8));
    readExactly(fd, json, 12);
    const spec = JSON.parse(json.toString()) as DatasetSpec;
    const d: PeerDataset = {
      spec,
      base: new Float32Array(spec.n * spec.dims),
      queries: new Float32Array(spec.queries * spec.dims),
      truth: new Uint32Array(spec.queries * spec.k),
      truthScores: new Float32Array(spec.queries * spec.k),
    };
    let pos = Math.ceil((12 + json.length) / 4) * 4;
    for (const s of sections(d)) pos = readExactly(fd, s, pos);
    return d;
  } finally {
    closeSync(fd);
  }
}
