// The objects of a build directory, `objects/<sha256>.<ext>`: written, read and checked against their reference
// (size, and the sha256 the name and the manifest give). A store remembers every object whose bytes it has hashed,
// writing or checking them, so a process that keeps one store hashes each object once.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { sha256Hex } from "../../src/format/checksum.ts";
import { createObjectRef, objectPath, OBJECT_EXT, type ObjectKind, type ObjectRef } from "../../src/format/objects.ts";
import { OBJECT_PATH_PATTERN } from "../../src/format/r2-keys.ts";
import { BuildError } from "./errors.ts";

export interface ObjectStore {
  /** The build directory (objects live under `<dir>/objects/`). */
  readonly dir: string;
  /**
   * Writes `bytes` as an object and returns its reference. Hashes them, unless `sha256` (of these very bytes) is
   * given. Temp file then rename: a crash never leaves a torn object under its final name; an object already there
   * is not rewritten.
   */
  write(kind: ObjectKind, bytes: Uint8Array, opts?: { count?: number; ext?: string; sha256?: string }): Promise<ObjectRef>;
  /** Writes bytes read (and checked against `ref`) from another build directory, under the same reference. */
  copy(ref: ObjectRef, bytes: Uint8Array): Promise<ObjectRef>;
  /**
   * Counts an object as checked without hashing it: one linked from a build directory that was verified when it was
   * written (an update's base). Its size is still checked on every read; `i3 publish` hashes everything again.
   */
  adopt(ref: ObjectRef): void;
  /** Reads an object: its size is always checked, its sha256 unless this store has hashed it already. */
  read(ref: ObjectRef): Promise<Uint8Array>;
  /** What is wrong with an object on disk (name, presence, size, sha256: streamed, once per store), or undefined. */
  check(ref: ObjectRef): Promise<string | undefined>;
  /** The object's file (for readers that open it themselves, e.g. onnxruntime). */
  file(ref: ObjectRef): string;
}

/**
 * A store over `<dir>/objects/`.
 *
 * @example
 * const store = createObjectStore("out/scifact.partial");
 * const ref = await store.write("shard", shardBytes, { count: 8192 }); // objects/<sha256>.i3vs
 */
export function createObjectStore(dir: string): ObjectStore {
  /** Object paths whose bytes this store has hashed and found right. */
  const hashed = new Set<string>();
  const file = (ref: ObjectRef) => path.join(dir, ref.path);
  const wrong = (ref: ObjectRef, why: string) => new BuildError("invalid_build", `build ${dir}: object ${ref.path}: ${why}`);

  return {
    dir,
    file,

    async write(kind, bytes, opts = {}) {
      const ref = opts.sha256 ? knownRef(kind, bytes, opts.sha256, opts) : await createObjectRef(kind, bytes, opts);
      // An object already on disk was not written from these bytes: it is hashed when checked or read.
      if (await writeAtomically(file(ref), bytes)) hashed.add(ref.path);
      return ref;
    },

    async copy(ref, bytes) {
      if (bytes.byteLength !== ref.bytes) throw wrong(ref, `expected ${ref.bytes} bytes, got ${bytes.byteLength}`);
      if (await writeAtomically(file(ref), bytes)) hashed.add(ref.path);
      return ref;
    },

    adopt(ref) {
      hashed.add(ref.path);
    },

    async read(ref) {
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await readFile(file(ref)));
      } catch (e) {
        throw wrong(ref, `missing (${(e as NodeJS.ErrnoException).code})`);
      }
      if (bytes.byteLength !== ref.bytes) throw wrong(ref, `expected ${ref.bytes} bytes, got ${bytes.byteLength}`);
      if (!hashed.has(ref.path)) {
        const actual = await sha256Hex(bytes);
        if (actual !== ref.sha256) throw wrong(ref, `expected sha256 ${ref.sha256}, got ${actual}`);
        hashed.add(ref.path);
      }
      return bytes;
    },

    async check(ref) {
      const named = OBJECT_PATH_PATTERN.exec(ref.path)?.[1];
      if (named !== ref.sha256) return `path names sha256 ${named ?? "(none)"} but the manifest lists ${ref.sha256}`;
      try {
        const s = await stat(file(ref));
        if (!s.isFile()) return "not a file";
        if (s.size !== ref.bytes) return `expected ${ref.bytes} bytes, found ${s.size}`;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : String(e);
      }
      if (hashed.has(ref.path)) return undefined;
      const actual = await hashFile(file(ref));
      if (actual !== ref.sha256) return `expected sha256 ${ref.sha256}, got ${actual}`;
      hashed.add(ref.path);
      return undefined;
    },
  };
}

/** The reference of bytes whose sha256 the caller computed (e.g. a model file hashed when it was loaded). */
function knownRef(kind: ObjectKind, bytes: Uint8Array, sha256: string, opts: { count?: number; ext?: string }): ObjectRef {
  const ref: ObjectRef = { path: objectPath(sha256, opts.ext ?? OBJECT_EXT[kind] ?? "bin"), kind, bytes: bytes.byteLength, sha256 };
  if (opts.count !== undefined) ref.count = opts.count;
  return ref;
}

/** Writes `file` unless it exists with the same size; true when it wrote. */
async function writeAtomically(file: string, bytes: Uint8Array): Promise<boolean> {
  const existing = await stat(file).catch(() => undefined);
  if (existing?.size === bytes.byteLength) return false;
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
  return true;
}

function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => h.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(h.digest("hex")));
  });
}
