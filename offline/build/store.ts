// Writing and checking the objects of a build directory (`objects/<sha256>.<ext>`).
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { createObjectRef, sha256Hex, type ObjectKind, type ObjectRef } from "../../src/format/index.ts";
import { BuildError } from "./errors.ts";

/**
 * Hashes `bytes`, writes them to `<dir>/objects/<sha256>.<ext>` (temp file then rename: a crash never leaves a
 * torn object under its final name) and returns the reference. Writing an object that is already there is a no-op.
 */
export async function writeObject(
  dir: string,
  kind: ObjectKind,
  bytes: Uint8Array,
  opts: { count?: number; ext?: string } = {},
): Promise<ObjectRef> {
  const ref = await createObjectRef(kind, bytes, opts);
  const file = path.join(dir, ref.path);
  const existing = await stat(file).catch(() => undefined);
  if (existing?.size === bytes.byteLength) return ref;
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
  return ref;
}

/** Reads an object of a build directory and checks its size and sha256 against the reference. */
export async function readObject(dir: string, ref: ObjectRef): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path.join(dir, ref.path)));
  } catch (e) {
    throw new BuildError("invalid_build", `build ${dir}: object ${ref.path} missing (${(e as NodeJS.ErrnoException).code})`, { cause: e });
  }
  if (bytes.byteLength !== ref.bytes) {
    throw new BuildError("invalid_build", `build ${dir}: object ${ref.path}: expected ${ref.bytes} bytes, got ${bytes.byteLength}`);
  }
  const actual = await sha256Hex(bytes);
  if (actual !== ref.sha256) {
    throw new BuildError("invalid_build", `build ${dir}: object ${ref.path}: expected sha256 ${ref.sha256}, got ${actual}`);
  }
  return bytes;
}
