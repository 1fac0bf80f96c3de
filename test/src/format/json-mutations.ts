// Arbitraries for property tests of the format's JSON parsers: valid documents changed at one place (a field
// dropped, set to another JSON value, a huge or odd number, an odd string, an unknown field added).
import fc from "fast-check";

export type JsonPath = Array<string | number>;

/** A change at one node of a JSON tree. */
export type Mutation = { op: "drop" } | { op: "set"; value: unknown } | { op: "add"; key: string; value: unknown };

/** Every node of `v` (the root first) as its path. */
export function nodePaths(v: unknown, at: JsonPath = []): JsonPath[] {
  const out: JsonPath[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...nodePaths(x, [...at, i])));
  else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) out.push(...nodePaths(x, [...at, k]));
  return out;
}

/** A deep copy of `doc` with `m` applied at `path` (dropping the root gives undefined). */
export function mutate(doc: unknown, path: JsonPath, m: Mutation): unknown {
  const root = structuredClone(doc);
  if (path.length === 0) return m.op === "drop" ? undefined : m.op === "set" ? m.value : addTo(root, m.key, m.value);
  const parent = path.slice(0, -1).reduce((n: any, k) => n[k], root);
  const key = path[path.length - 1];
  if (m.op === "drop") Array.isArray(parent) ? parent.splice(key as number, 1) : delete parent[key];
  else if (m.op === "set") parent[key] = m.value;
  else parent[key] = addTo(parent[key], m.key, m.value);
  return root;
}

function addTo(node: unknown, key: string, value: unknown): unknown {
  // An own property even for "__proto__", as JSON.parse makes it.
  if (typeof node === "object" && node !== null && !Array.isArray(node)) {
    Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return node;
}

/** Numbers at and past the edges: negative, fractional, past u32 and 2^53, the largest doubles, NaN, infinities. */
export const oddNumber = fc.oneof(
  fc.constantFrom(-1, -0, 0.5, 1.5, 0xffff + 1, 2 ** 32, 2 ** 32 - 1, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, NaN, Infinity, -Infinity),
  fc.double(),
  fc.integer(),
);

/** Strings a parser must not trip on: empty, NUL, traversal, prototype keys, upper-case hex, very long, non-ASCII. */
export const oddString = fc.oneof(
  fc.constantFrom("", " ", "\u0000", "../current", "objects/../current", "__proto__", "constructor", "toString", "A".repeat(64), "0".repeat(64), "x".repeat(100_000), "é\u{1F600}", "2025-13-45T99:99:99Z", "sha256:"),
  fc.string({ unit: "grapheme", maxLength: 40 }),
);

/** Any replacement value: JSON of any shape, odd numbers and strings, and JS values JSON does not have. */
export const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), oddNumber, oddString, fc.constantFrom(undefined, null, true, false, [], {}));

/** Up to three mutations of `doc`, each at a node picked among its nodes at the time. */
export function mutationsOf(doc: unknown): fc.Arbitrary<unknown> {
  const one = fc.tuple(
    fc.nat(),
    fc.oneof(
      fc.constant<Mutation>({ op: "drop" }),
      anyValue.map((value): Mutation => ({ op: "set", value })),
      fc.tuple(oddString, anyValue).map(([key, value]): Mutation => ({ op: "add", key, value })),
    ),
  );
  return fc.array(one, { minLength: 1, maxLength: 3 }).map((steps) =>
    steps.reduce((d, [n, m]) => {
      const paths = nodePaths(d);
      return mutate(d, paths[n % paths.length], m);
    }, structuredClone(doc)),
  );
}

/** An unknown field (`x-` prefixed, so no schema knows it) added to one object node of `doc`. */
export function unknownFieldOf(doc: unknown): fc.Arbitrary<unknown> {
  const objects = nodePaths(doc).filter((p) => {
    const n = p.reduce((x: any, k) => x[k], doc);
    return typeof n === "object" && n !== null && !Array.isArray(n);
  });
  return fc
    .tuple(fc.constantFrom(...objects), fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }))
    .map(([path, key, value]) => mutate(doc, path, { op: "add", key: `x-${key}`, value }));
}
