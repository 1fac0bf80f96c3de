import { FormatError } from "./errors.ts";

/** What `verifyObject` needs of an object reference (a manifest `ObjectRef` fits). */
export interface ObjectDigest {
  path: string;
  bytes: number;
  sha256: string;
}

/**
 * Lower-case hex SHA-256 of `bytes`, through WebCrypto (Node 20+ and workerd alike).
 *
 * @example
 * await sha256Hex(new TextEncoder().encode("abc")); // "ba7816bf..."
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return toHex(new Uint8Array(digest));
}

/**
 * Checks an object's bytes against its reference: size first (`truncated`), then SHA-256 (`checksum_mismatch`).
 *
 * @example
 * await verifyObject(manifest.model.vocab, vocabBytes);
 */
export async function verifyObject(ref: ObjectDigest, bytes: Uint8Array): Promise<void> {
  if (bytes.byteLength !== ref.bytes) {
    throw new FormatError(
      "truncated",
      `object ${ref.path}: expected ${ref.bytes} bytes, got ${bytes.byteLength}`,
    );
  }
  const actual = await sha256Hex(bytes);
  if (actual !== ref.sha256) {
    throw new FormatError("checksum_mismatch", `object ${ref.path}: expected sha256 ${ref.sha256}, got ${actual}`);
  }
}

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, the zlib one) of `bytes`; guards binary headers, which are read before the whole object. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
