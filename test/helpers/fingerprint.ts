// Content fingerprints for test caches: the source files a module runs (its relative-import closure) and data
// files or folders, hashed by path and content, so a cache is rebuilt whenever anything that shaped it changes.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

// Loaded by Node itself: through vitest's module runner (global setup) it would look for typescript's source map.
const ts: typeof import("typescript") = createRequire(import.meta.url)("typescript");

/** The module specifiers a source file imports or re-exports, dynamic `import()` included (comments are not read). */
function specifiers(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles.map((f) => f.fileName);
}

/** A relative specifier as a file: itself, or with `.ts`, or its folder's `index.ts`. */
function resolveImport(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const f of [base, `${base}.ts`, join(base, "index.ts")]) if (existsSync(f) && statSync(f).isFile()) return f;
  throw new Error(`${from}: cannot resolve import ${JSON.stringify(spec)}`);
}

/**
 * Every source file `entries` import, directly or not, through relative specifiers (packages are left out),
 * the entries included; absolute paths, sorted.
 */
export function importClosure(entries: string[]): string[] {
  const seen = new Set<string>();
  const todo = entries.map((e) => resolve(e));
  while (todo.length) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of specifiers(file)) if (spec.startsWith(".")) todo.push(resolveImport(file, spec));
  }
  return [...seen].sort();
}

/** The files under `path` (itself when it is a file), sorted. */
function filesUnder(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

/**
 * A short hash of `paths` (files or folders, every file under them) by their paths relative to `root` and their
 * bytes, and of `extra` (e.g. options that are not in a file).
 */
export function fingerprint(root: string, paths: string[], extra = ""): string {
  const h = createHash("sha256").update(extra);
  for (const file of [...new Set(paths.flatMap((p) => filesUnder(resolve(root, p))))].sort()) {
    h.update(`\0${relative(root, file)}\0`).update(readFileSync(file));
  }
  return h.digest("hex").slice(0, 16);
}
