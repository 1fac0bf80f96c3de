// The int4 form of a partition (src/format/int4-partition.ts): what a worker puts in the colo cache for an index
// scanned int4. It round-trips, and a reader refuses (FormatError) one that is not the form of the shard it expects.
import { describe, expect, it } from "vitest";
import { decodeInt4Partition, encodeInt4Partition, FormatError, INT4_PARTITION_HEADER_BYTES } from "../../../src/format/index.ts";

const SHARD = "0123456789abcdef".repeat(4);
const part = (count: number, dims = 64, shard = SHARD) => ({
  dims, count, shard,
  packed: new Uint8Array((count * dims) / 2).map((_, i) => (i * 53 + 7) & 0xff),
  scales: Float32Array.from({ length: count }, (_, i) => 0.01 * (i + 1)),
  ordinals: Uint32Array.from({ length: count }, (_, i) => 3 * i + 1),
});

describe("int4 partition", () => {
  it("round-trips rows, scales, ordinals and its shard, from any byte offset", () => {
    const p = part(5);
    const bytes = encodeInt4Partition(p);
    expect(bytes.byteLength).toBe(INT4_PARTITION_HEADER_BYTES + 5 * 32 + 5 * 8);
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    for (const b of [bytes, shifted.subarray(3)]) {
      const d = decodeInt4Partition(b, { dims: 64, count: 5, shard: SHARD });
      expect(d).toEqual({ ...p, packed: p.packed, scales: p.scales, ordinals: p.ordinals });
    }
    expect(decodeInt4Partition(encodeInt4Partition(part(0)), { dims: 64, count: 0, shard: SHARD }).packed.byteLength).toBe(0);
  });

  it("refuses the form of another shard (same size), and a truncated or altered one (FormatError)", () => {
    const bytes = encodeInt4Partition(part(4));
    const want = { dims: 64, count: 4, shard: SHARD };
    const refuse = (b: Uint8Array, w = want) => expect(() => decodeInt4Partition(b, w)).toThrow(FormatError);
    refuse(encodeInt4Partition(part(4, 64, "f".repeat(64)))); // another shard's rows, the same count and dims
    refuse(bytes, { ...want, count: 5 });
    refuse(bytes, { ...want, dims: 32 });
    refuse(bytes.subarray(0, bytes.byteLength - 1));
    refuse(bytes.subarray(0, 20));
    const altered = bytes.slice();
    altered[12] ^= 1; // the count, under the header CRC
    refuse(altered);
    const magic = bytes.slice();
    magic[0] = 0x58;
    refuse(magic);
  });

  it("encodes only whole int4 rows at dims a multiple of 32, from a shard named by its sha256", () => {
    expect(() => encodeInt4Partition(part(2, 48))).toThrow(FormatError);
    expect(() => encodeInt4Partition({ ...part(2), packed: new Uint8Array(10) })).toThrow(FormatError);
    expect(() => encodeInt4Partition({ ...part(2), ordinals: new Uint32Array(1) })).toThrow(FormatError);
    expect(() => encodeInt4Partition({ ...part(2), shard: "not a sha" })).toThrow(FormatError);
  });
});
