// Reading a request body within a byte limit, whether or not it declares its length.
import { ApiError } from "../http-error";

/** Bytes of a chunked body over its limit read and thrown away before the stream is cancelled (a lingering close). */
export const DRAIN_BYTES = 1024 * 1024;

/**
 * The body's bytes, at most `limit` of them. A Content-Length above the limit is refused before anything is read; a
 * body without one (chunked) is counted as it streams, and once the count passes the limit nothing more is held: up
 * to DRAIN_BYTES more are read and thrown away, so a client that sent a little too much ends its request cleanly
 * and reads the 413, then the stream is cancelled. The answer (413 `payload_too_large`) claims no size it never saw.
 *
 * @example
 * const bytes = await readBodyWithin(c.req.raw, 16 * 1024);
 */
export async function readBodyWithin(req: Request, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    cancel(req.body);
    throw new ApiError(413, "payload_too_large", `the body's Content-Length is ${Number(declared)} bytes; the limit is ${limit}`);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await drain(reader, DRAIN_BYTES);
      throw new ApiError(413, "payload_too_large", `the body is larger than the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

/** Reads and drops up to `max` more bytes; cancels the stream if it goes on past them. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, max: number): Promise<void> {
  let dropped = 0;
  try {
    while (dropped <= max) {
      const { done, value } = await reader.read();
      if (done) return;
      dropped += value.byteLength;
    }
  } catch {
    return; // a broken stream: nothing more to read
  }
  reader.cancel("payload too large").catch(() => {});
}

/** Stops a body nobody will read (errors of an already broken stream do not matter here). */
function cancel(body: ReadableStream | null): void {
  body?.cancel("payload too large").catch(() => {});
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
