import { describe, expect, it } from "vitest";
import {
  HEADER_BYTES, crc32, SHARD_ALIGN, decodeShard, encodeShard, quantizeInt8, readShardHeader, signCodes,
} from "../../../src/format/index.ts";
import { code } from "../../helpers/format-error.ts";

function sample(count = 5, dims = 13) {
  const x = new Float32Array(count * dims).map((_, i) => Math.sin(i * 0.7));
  const q = quantizeInt8(x, dims);
  const ordinals = new Uint32Array(count).map((_, i) => 100 + Math.floor(i / 2));
  return { dims, ...q, codes: signCodes(x, dims), ordinals, firstPassage: 42 };
}

describe("vector shard", () => {
  it("has a 64-byte header", () => {
    expect(HEADER_BYTES).toBe(64);
    const bytes = encodeShard(sample());
    expect(readShardHeader(bytes).vectorsOffset).toBe(HEADER_BYTES);
  });

  it("round trips, from the header alone and the whole object", () => {
    const input = sample();
    const bytes = encodeShard(input);
    const h = readShardHeader(bytes.slice(0, HEADER_BYTES));
    expect(h).toMatchObject({ major: 1, minor: 0, dims: 13, count: 5, quantization: "int8", firstPassage: 42, totalBytes: bytes.length });
    const s = decodeShard(bytes);
    expect(s.vectors).toEqual(input.vectors);
    expect(s.scales).toEqual(input.scales);
    expect(s.codes).toEqual(input.codes);
    expect(s.ordinals).toEqual(input.ordinals);
  });

  it("returns aligned zero-copy views into the object bytes", () => {
    const bytes = encodeShard(sample());
    const s = decodeShard(bytes);
    for (const view of [s.vectors, s.scales, s.codes, s.ordinals]) {
      expect(view.buffer).toBe(bytes.buffer);
      expect(view.byteOffset % SHARD_ALIGN).toBe(0);
    }
    bytes[s.header.vectorsOffset] = 7;
    expect(s.vectors[0]).toBe(7);
  });

  it("reads from an unaligned subarray by copying once", () => {
    const bytes = encodeShard(sample());
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    const s = decodeShard(padded.subarray(1));
    expect(s.ordinals).toEqual(sample().ordinals);
  });

  it("encodes an empty shard and computes codes when absent", () => {
    const empty = decodeShard(encodeShard({ dims: 8, vectors: new Int8Array(0), scales: new Float32Array(0), ordinals: new Uint32Array(0) }));
    expect(empty.header.count).toBe(0);
    const { codes, ...rest } = sample();
    expect(decodeShard(encodeShard(rest)).codes).toEqual(signCodes(rest.vectors, rest.dims));
  });

  it("rejects mismatched input lengths", () => {
    expect(() => encodeShard({ ...sample(), ordinals: new Uint32Array(2) })).toThrow(RangeError);
    expect(() => encodeShard({ ...sample(), codes: new Uint8Array(3) })).toThrow(RangeError);
  });

  it("rejects a wrong magic", () => {
    const bytes = encodeShard(sample());
    bytes[0] = "X".charCodeAt(0);
    expect(code(() => readShardHeader(bytes))).toBe("bad_magic");
    expect(() => readShardHeader(bytes)).toThrow(/expected magic "I3VS", got "X3VS"/);
  });

  it("rejects an unknown major version, reads a higher minor", () => {
    const major = encodeShard(sample());
    new DataView(major.buffer).setUint16(4, 2, true);
    expect(code(() => decodeShard(major))).toBe("unsupported_version");
    expect(() => decodeShard(major)).toThrow(/expected major version 1, got 2\.0/);

    const minor = encodeShard(sample());
    new DataView(minor.buffer).setUint16(6, 3, true);
    restampCrc(minor);
    expect(decodeShard(minor).header.minor).toBe(3);
  });

  it("rejects truncation at several points", () => {
    const bytes = encodeShard(sample());
    for (const n of [0, 3, 10, HEADER_BYTES - 1, HEADER_BYTES, bytes.length - 1]) {
      expect(code(() => decodeShard(bytes.slice(0, n)))).toBe("truncated");
    }
  });

  it("detects a flipped header byte through the header crc", () => {
    const bytes = encodeShard(sample());
    bytes[16] ^= 1;
    expect(code(() => readShardHeader(bytes))).toBe("checksum_mismatch");
  });

  it("rejects sections that do not fit", () => {
    const bytes = encodeShard(sample());
    new DataView(bytes.buffer).setUint32(40, bytes.length, true);
    restampCrc(bytes);
    expect(code(() => readShardHeader(bytes))).toBe("invalid_object");
  });
});

function restampCrc(bytes: Uint8Array) {
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(60, crc32(bytes.subarray(0, 60)), true);
}
