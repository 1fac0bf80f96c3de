// The static query model object (I3SQ): the Python exporter writes it (offline/train/static_export.py), this decoder
// reads it. The shipped model's file is the input; crafted variants of it must fail with a FormatError.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { crc32, decodeStaticQuery, STATIC_QUERY_HEADER_BYTES } from "../../../src/format/index.ts";
import { code, failure } from "../../helpers/format-error.ts";

const FIXTURE = path.join(import.meta.dirname, "../../fixtures/static-query-cases.json");
const fixture = JSON.parse(readFileSync(FIXTURE, "utf8")) as { model: string };
const shipped = new Uint8Array(readFileSync(path.join(path.dirname(FIXTURE), fixture.model)));

/** A copy of the shipped bytes with `edit` applied to its header and the header CRC stamped again. */
function crafted(edit: (dv: DataView, b: Uint8Array) => void, restampBody = false): Uint8Array {
  const b = shipped.slice();
  const dv = new DataView(b.buffer);
  edit(dv, b);
  if (restampBody) dv.setUint32(40, crc32(b.subarray(STATIC_QUERY_HEADER_BYTES)), true);
  dv.setUint32(44, crc32(b.subarray(0, 44)), true);
  return b;
}

describe("static query model (I3SQ)", () => {
  it("reads the Python-written file of the shipped model", () => {
    const m = decodeStaticQuery(shipped);
    expect([m.dims, m.vocab, m.maxTokens]).toEqual([512, 8000, 32]);
    expect(m.table.length).toBe(8000 * 512);
    expect(m.weights.every((w) => Number.isFinite(w) && w > 0)).toBe(true);
    expect(shipped.byteLength).toBe(STATIC_QUERY_HEADER_BYTES + 8 * 8000 + 8000 * 512);
  });

  it("rejects a wrong magic, another major, a header or body that fails its CRC", () => {
    expect(code(() => decodeStaticQuery(crafted((_, b) => b.set([88, 88, 88, 88]))))).toBe("bad_magic");
    expect(failure(() => decodeStaticQuery(crafted((dv) => dv.setUint16(4, 2, true))))).toMatchObject({ code: "unsupported_version", message: expect.stringContaining("expected major version 1, got 2.0") });
    const flipped = shipped.slice();
    flipped[9] ^= 1;
    expect(code(() => decodeStaticQuery(flipped))).toBe("checksum_mismatch");
    expect(code(() => decodeStaticQuery(crafted((_, b) => void (b[1000] ^= 1))))).toBe("checksum_mismatch");
    // Bytes checked against their sha256 (the worker's reads): the body's CRC is not computed again; the header's is.
    expect(code(() => decodeStaticQuery(crafted((_, b) => void (b[1000] ^= 1)), { verified: true }))).toBe("no error");
    expect(code(() => decodeStaticQuery(flipped, { verified: true }))).toBe("checksum_mismatch");
  });

  it("rejects truncated bytes and headers that do not describe the layout", () => {
    expect(code(() => decodeStaticQuery(shipped.subarray(0, 20)))).toBe("truncated");
    expect(code(() => decodeStaticQuery(shipped.subarray(0, shipped.byteLength - 1)))).toBe("truncated");
    const longer = new Uint8Array(shipped.byteLength + 4);
    longer.set(shipped);
    expect(code(() => decodeStaticQuery(longer))).toBe("invalid_object");
    for (const [at, value] of [[8, 0], [8, 513], [12, 7999], [12, 0xffffffff], [16, 0], [20, 2], [24, 52], [28, 0], [32, 48], [36, 1 << 30]] as const) {
      expect(code(() => decodeStaticQuery(crafted((dv) => dv.setUint32(at, value, true)))), `u32 at ${at} = ${value}`).toBe("invalid_object");
    }
  });

  it("rejects a weight or scale that is not finite, even with valid CRCs", () => {
    const nanWeight = crafted((dv) => dv.setFloat32(STATIC_QUERY_HEADER_BYTES + 4 * 17, Number.NaN, true), true);
    expect(failure(() => decodeStaticQuery(nanWeight))).toMatchObject({ code: "invalid_object", message: expect.stringContaining("token 17") });
    const infScale = crafted((dv) => dv.setFloat32(STATIC_QUERY_HEADER_BYTES + 4 * 8000 + 4 * 3, Infinity, true), true);
    expect(code(() => decodeStaticQuery(infScale))).toBe("invalid_object");
  });
});
