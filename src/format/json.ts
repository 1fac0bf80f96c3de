// Deterministic JSON text: objects keep the key order they are built with (callers build them in a fixed
// order), `sortKeys` orders free-form records; arrays of primitives stay on one line so centroids stay compact.

/** Recursively sorts the keys of plain objects (for free-form records inside a manifest). */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== "object" || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k]);
  return out;
}

/** Two-space indented JSON with arrays of primitives on one line, ending in a newline. */
export function stableStringify(v: unknown): string {
  return write(v, "") + "\n";
}

function write(v: unknown, pad: string): string {
  if (typeof v !== "object" || v === null) return JSON.stringify(v) ?? "null";
  const inner = pad + "  ";
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    if (v.every((x) => typeof x !== "object" || x === null)) return "[" + v.map((x) => JSON.stringify(x) ?? "null").join(", ") + "]";
    return "[\n" + v.map((x) => inner + write(x, inner)).join(",\n") + "\n" + pad + "]";
  }
  const entries = Object.entries(v).filter(([, x]) => x !== undefined);
  if (entries.length === 0) return "{}";
  return "{\n" + entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${write(x, inner)}`).join(",\n") + "\n" + pad + "}";
}
