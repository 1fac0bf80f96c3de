import { FormatError, objectKey, verifyObject, type ObjectRef } from "../../format";

/** Reads an R2 object (or a byte range of it) as bytes; null when the key does not exist. */
export async function getBytes(
  bucket: R2Bucket,
  key: string,
  range?: { offset: number; length: number },
): Promise<Uint8Array | null> {
  const obj = await bucket.get(key, range ? { range } : undefined);
  if (!obj) return null;
  return new Uint8Array(await obj.arrayBuffer());
}

/** Fetches an object of the index and checks its size and sha256 against the manifest. */
export async function fetchVerified(bucket: R2Bucket, tenant: string, index: string, ref: ObjectRef): Promise<Uint8Array> {
  const bytes = await getBytes(bucket, objectKey(tenant, index, ref.path));
  if (!bytes) throw new FormatError("truncated", `object ${ref.path} of ${tenant}/${index} is missing from R2`);
  await verifyObject(ref, bytes);
  return bytes;
}
