import { describe, expect, it } from "vitest";
import {
  DOC_HEADER_BYTES, type Doc, byteRangeOf, crc32, decodeDocBlock, decodeDocRecord, docBlockIndexBytes,
  encodeDocBlock, readDocBlockHeader, readDocBlockIndex,
} from "../../../src/format/index.ts";
import { code } from "../../helpers/format-error.ts";

const docs: Doc[] = [
  { id: "d0", text: "plain text" },
  { id: "d1", title: "Ünïcödé ✓", text: "日本語のテキスト 🚀 with \"quotes\" and \\ backslash\n", metadata: { year: 2024, tags: ["a", "b"], nested: { x: null } } },
  { id: "d2", text: "" },
  { id: "émoji-👍", text: "surrogates 𝔘𝔫𝔦", metadata: {} },
];

function restampHeaderCrc(bytes: Uint8Array) {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(36, crc32(bytes.subarray(0, 36)), true);
}

describe("doc block", () => {
  it("has a 40-byte header", () => {
    expect(DOC_HEADER_BYTES).toBe(40);
  });

  it("round trips unicode and metadata", () => {
    expect(decodeDocBlock(encodeDocBlock(docs, 4096))).toEqual(docs);
    expect(decodeDocBlock(encodeDocBlock([], 0))).toEqual([]);
  });

  it("locates records from the header and offsets prefix alone (range reads)", () => {
    const bytes = encodeDocBlock(docs, 4096);
    const header = readDocBlockHeader(bytes.slice(0, DOC_HEADER_BYTES));
    expect(header).toMatchObject({ major: 1, minor: 0, count: 4, firstOrdinal: 4096, totalBytes: bytes.length });
    const need = docBlockIndexBytes(header);
    expect(need).toBe(DOC_HEADER_BYTES + 5 * 4);
    const index = readDocBlockIndex(bytes.slice(0, need));
    docs.forEach((d, i) => {
      const { offset, length } = byteRangeOf(index, 4096 + i);
      expect(decodeDocRecord(bytes.slice(offset, offset + length))).toEqual(d);
    });
    expect(() => byteRangeOf(index, 4095)).toThrow(RangeError);
    expect(() => byteRangeOf(index, 4100)).toThrow(RangeError);
  });

  it("rejects a wrong magic, an unknown major, reads a higher minor", () => {
    const magic = encodeDocBlock(docs, 0);
    magic[3] = 0;
    expect(code(() => readDocBlockHeader(magic))).toBe("bad_magic");

    const major = encodeDocBlock(docs, 0);
    new DataView(major.buffer).setUint16(4, 9, true);
    expect(code(() => readDocBlockIndex(major))).toBe("unsupported_version");

    const minor = encodeDocBlock(docs, 0);
    new DataView(minor.buffer).setUint16(6, 1, true);
    restampHeaderCrc(minor);
    expect(decodeDocBlock(minor)).toEqual(docs);
  });

  it("rejects truncation at several points", () => {
    const bytes = encodeDocBlock(docs, 0);
    for (const n of [0, 5, DOC_HEADER_BYTES - 1, DOC_HEADER_BYTES + 3, DOC_HEADER_BYTES + 19, bytes.length - 1]) {
      expect(code(() => decodeDocBlock(bytes.slice(0, n)))).toBe("truncated");
    }
  });

  it("detects a flipped byte in the header or the offsets table", () => {
    const header = encodeDocBlock(docs, 0);
    header[12] ^= 1;
    expect(code(() => readDocBlockHeader(header))).toBe("checksum_mismatch");
    const table = encodeDocBlock(docs, 0);
    table[DOC_HEADER_BYTES + 4] ^= 1;
    expect(code(() => readDocBlockIndex(table))).toBe("checksum_mismatch");
  });

  it("rejects records that are not documents", () => {
    const enc = new TextEncoder();
    expect(code(() => decodeDocRecord(enc.encode("{\"id\":1,\"text\":\"x\"}")))).toBe("invalid_object");
    expect(code(() => decodeDocRecord(enc.encode("{\"id\":\"a\"")))).toBe("invalid_object");
    expect(code(() => decodeDocRecord(new Uint8Array([0xff, 0xfe])))).toBe("invalid_object");
  });
});
