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
