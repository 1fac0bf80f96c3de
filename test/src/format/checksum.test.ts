import { describe, expect, it } from "vitest";
import { FormatError, createObjectRef, crc32, sha256Hex, verifyObject } from "../../../src/format/index.ts";

const abc = new TextEncoder().encode("abc");

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FormatError) return e.code;
    throw e;
  }
  return "no error";
}

describe("checksums", () => {
  it("computes SHA-256 and CRC-32 test vectors", async () => {
    expect(await sha256Hex(abc)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await sha256Hex(new Uint8Array([0, ...abc]).subarray(1))).toBe(await sha256Hex(abc));
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  it("verifies an object against its reference", async () => {
    const ref = await createObjectRef("shard", abc, { count: 1 });
    expect(ref).toEqual({ path: `objects/${ref.sha256}.i3vs`, kind: "shard", bytes: 3, sha256: ref.sha256, count: 1 });
    await verifyObject(ref, abc);
    expect(await code(verifyObject(ref, abc.subarray(0, 2)))).toBe("truncated");
    expect(await code(verifyObject(ref, new Uint8Array([...abc, 0])))).toBe("truncated");
    const flipped = abc.slice();
    flipped[1] ^= 1;
    expect(await code(verifyObject(ref, flipped))).toBe("checksum_mismatch");
    await expect(verifyObject(ref, flipped)).rejects.toThrow(/expected sha256 ba78.*, got /);
  });
});
