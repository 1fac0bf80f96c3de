// Arbitraries for property tests of the format's binary readers: valid objects changed in a few places (bytes
// flipped, u16/u32 fields set to edge values, cut short, extended), optionally with their CRCs stamped again so the
// change gets past the checksum to the checks behind it; and the helpers that tell an out-of-bounds read.
import fc from "fast-check";
import { writeHeaderCrc } from "../../../src/format/binary.ts";
import { crc32 } from "../../../src/format/index.ts";

/** One change to an object's bytes. */
export type ByteOp =
  | { op: "flip"; at: number; mask: number }
  | { op: "u32"; at: number; value: number }
  | { op: "u16"; at: number; value: number }
  | { op: "cut"; keep: number }
  | { op: "extend"; extra: Uint8Array };

/** Values at and past the edges of a length or an offset field, relative to the object's length `n`. */
const edgeValue = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 15, 16, 31, 32, 40, 63, 64, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff),
  fc.integer({ min: -8, max: 8 }).map((d) => ({ rel: d })),
  fc.nat(),
);

/** Up to four changes, each placed on the object as it is at the time (header fields more often than the rest). */
export function byteOps(headerBytes: number): fc.Arbitrary<Array<ByteOp | { op: "u32rel"; at: number; delta: number }>> {
  const field = fc.nat({ max: headerBytes / 2 - 1 }).map((i) => i * 2);
  const one = fc.oneof(
    fc.record({ op: fc.constant("flip" as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    fc.tuple(field, edgeValue).map(([at, v]) => (typeof v === "number" ? { op: "u32" as const, at, value: v >>> 0 } : { op: "u32rel" as const, at, delta: v.rel })),
    fc.tuple(field, fc.constantFrom(0, 1, 2, 0x7fff, 0xffff)).map(([at, value]) => ({ op: "u16" as const, at, value })),
    fc.nat().map((keep) => ({ op: "cut" as const, keep })),
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra) => ({ op: "extend" as const, extra })),
  );
  return fc.array(one, { minLength: 1, maxLength: 4 });
}

/** `bytes` with `ops` applied (a copy). `u32rel` sets a field to the object's length plus `delta`. */
export function applyOps(bytes: Uint8Array, ops: Array<ByteOp | { op: "u32rel"; at: number; delta: number }>): Uint8Array {
  let b = bytes.slice();
  for (const o of ops) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (o.op === "flip") {
      if (b.length) b[o.at % b.length] ^= o.mask;
    } else if (o.op === "u32" || o.op === "u32rel") {
      const v = o.op === "u32" ? o.value : Math.max(0, b.length + o.delta) >>> 0;
      if (o.at + 4 <= b.length) dv.setUint32(o.at, v, true);
    } else if (o.op === "u16") {
      if (o.at + 2 <= b.length) dv.setUint16(o.at, o.value, true);
    } else if (o.op === "cut") {
      b = b.slice(0, o.keep % (b.length + 1));
    } else {
      const out = new Uint8Array(b.length + o.extra.length);
      out.set(b);
      out.set(o.extra, b.length);
      b = out;
    }
  }
  return b;
}

/** Stamps the header CRC at `crcAt` again, when the object is long enough to hold it. */
export function restampHeader(b: Uint8Array, crcAt: number): void {
  if (b.length >= crcAt + 4) writeHeaderCrc(b, crcAt);
}

/** A doc block's offsets CRC (u32 at 32) stamped again over the table its header names, where it lies inside. */
export function restampDocOffsets(b: Uint8Array): void {
  if (b.length < 40) return;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = dv.getUint32(20, true);
  const end = at + (dv.getUint32(12, true) + 1) * 4;
  if (end <= b.length) dv.setUint32(32, crc32(b.subarray(at, end)), true);
}

/**
 * `bytes` inside a larger buffer whose other bytes are all `fill`, at a 16-aligned offset: a reader that stays
 * within its input decodes the same whatever the fill.
 */
export function embedded(bytes: Uint8Array, fill: number): Uint8Array {
  const pad = 32;
  const buf = new Uint8Array(pad + bytes.length + pad).fill(fill);
  buf.set(bytes, pad);
  return buf.subarray(pad, pad + bytes.length);
}

/** Every typed-array view in `v` that shares `input`'s buffer lies within `input`. */
export function viewsWithin(v: unknown, input: Uint8Array, seen = new Set<unknown>()): boolean {
  if (typeof v !== "object" || v === null || seen.has(v)) return true;
  seen.add(v);
  if (ArrayBuffer.isView(v)) {
    if (v.buffer !== input.buffer) return true;
    return v.byteOffset >= input.byteOffset && v.byteOffset + v.byteLength <= input.byteOffset + input.byteLength;
  }
  const values = v instanceof Map ? [...v.values()] : Object.values(v);
  return values.every((x) => viewsWithin(x, input, seen));
}

/** A plain, comparable copy of a decoded value (typed arrays as arrays, maps as entries). */
export function plain(v: unknown): unknown {
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [k, plain(x)]);
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
