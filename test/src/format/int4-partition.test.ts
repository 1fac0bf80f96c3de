// The int4 form of a partition (src/format/int4-partition.ts): what a worker puts in the colo cache for an index
// scanned int4. It round-trips, and a reader refuses (FormatError) one that is not the shard's it stands for.
import { describe, expect, it } from "vitest";
import { decodeInt4Partition, encodeInt4Partition, FormatError, INT4_PARTITION_HEADER_BYTES } from "../../../src/format/index.ts";

const part = (count: number, dims = 64) => ({
  dims, count,
  packed: new Uint8Array((count * dims) / 2).map((_, i) => (i * 53 + 7) & 0xff),
  scales: Float32Array.from({ length: count }, (_, i) => 0.01 * (i + 1)),
  ordinals: Uint32Array.from({ length: count }, (_, i) => 3 * i + 1),
});

describe("int4 partition", () => {
  it("round-trips rows, scales and ordinals, from any byte offset", () => {
    const p = part(5);
    const bytes = encodeInt4Partition(p);
    expect(bytes.byteLength).toBe(INT4_PARTITION_HEADER_BYTES + 5 * 32 + 5 * 8);
    const shifted = new Uint8Array(bytes.byteLength + 3);
    shifted.set(bytes, 3);
    for (const b of [bytes, shifted.subarray(3)]) {
      const d = decodeInt4Partition(b, { dims: 64, count: 5 });
      expect(d.packed).toEqual(p.packed);
      expect(d.scales).toEqual(p.scales);
      expect(d.ordinals).toEqual(p.ordinals);
    }
    expect(decodeInt4Partition(encodeInt4Partition(part(0)), { dims: 64, count: 0 }).packed.byteLength).toBe(0);
  });

  it("refuses another shard's form, a truncated or altered one (FormatError)", () => {
    const bytes = encodeInt4Partition(part(4));
    const refuse = (b: Uint8Array, expect4 = { dims: 64, count: 4 }) => expect(() => decodeInt4Partition(b, expect4)).toThrow(FormatError);
    refuse(bytes, { dims: 64, count: 5 });
    refuse(bytes, { dims: 32, count: 4 });
    refuse(bytes.subarray(0, bytes.byteLength - 1));
    refuse(bytes.subarray(0, 20));
    const altered = bytes.slice();
    altered[12] ^= 1; // the count, under the header CRC
    refuse(altered);
    const magic = bytes.slice();
    magic[0] = 0x58;
    refuse(magic);
  });

  it("encodes only whole int4 rows at dims a multiple of 32", () => {
    expect(() => encodeInt4Partition(part(2, 48))).toThrow(FormatError);
    expect(() => encodeInt4Partition({ ...part(2), packed: new Uint8Array(10) })).toThrow(FormatError);
    expect(() => encodeInt4Partition({ ...part(2), ordinals: new Uint32Array(1) })).toThrow(FormatError);
  });
});
