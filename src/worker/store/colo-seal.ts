// Seals for what one deployment shares through the colo's cache and must not take from another. caches.default is
// shared by every Worker on the zone (a staging deployment, another team's Worker): an entry one of them put could be
// read by any other. A deployment with COLO_SHARE_SECRET seals its entries with HMAC-SHA256 under that secret and
// takes an entry only when its seal verifies, so a record put by a Worker without the secret (or with another) is
// never taken, and cannot be forged by one. Its entries also live under a namespace derived from the secret, so
// deployments with different secrets do not overwrite each other's, and a Worker without it cannot find them (the
// Cache API has no listing; an entry's URL holds 64 bits derived from the secret). The seal is integrity, not secrecy:
// what is shared must be fine for a Worker that found it to read (a key record holds only the key's SHA-256). Two
// deployments with the same secret trust each other's entries: each deployment needs its own.
const enc = new TextEncoder();

export interface ColoSeal {
  /** A path segment that differs between secrets (16 hex digits of an HMAC of a fixed label under the secret). */
  namespace: string;
  /** The seal of `data` (text as UTF-8; hex). */
  seal(data: string | Uint8Array): Promise<string>;
  /** Whether `seal` is `data`'s seal under this secret (a constant-time check: crypto.subtle.verify). */
  verify(data: string | Uint8Array, seal: string): Promise<boolean>;
}

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

function unhex(s: string): Uint8Array | null {
  if (!/^[0-9a-f]{64}$/.test(s)) return null;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const bytesOf = (data: string | Uint8Array) => (typeof data === "string" ? enc.encode(data) : data);

const sealers = new Map<string, Promise<ColoSeal>>();

/**
 * The seal of a deployment's secret (imported once per isolate; a failed import is tried again by the next call).
 *
 * @example
 * const s = await coloSeal(config.coloShareSecret);
 * const ok = await s.verify(body, res.headers.get("x-i3-seal") ?? "");
 */
export function coloSeal(secret: string): Promise<ColoSeal> {
  let s = sealers.get(secret);
  if (!s) {
    s = (async () => {
      const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
      const namespace = hex(await crypto.subtle.sign("HMAC", key, enc.encode("i3 colo namespace"))).slice(0, 16);
      return {
        namespace,
        seal: async (data) => hex(await crypto.subtle.sign("HMAC", key, bytesOf(data))),
        verify: async (data, seal) => {
          const sig = unhex(seal);
          return sig !== null && crypto.subtle.verify("HMAC", key, sig, bytesOf(data));
        },
      };
    })();
    sealers.set(secret, s);
    s.catch(() => sealers.delete(secret));
  }
  return s;
}

/**
 * The seal of a request's storage: its deployment's (COLO_SHARE_SECRET), or null where it has none, or where the
 * seal cannot be made (logged: what would be shared sealed is then not shared).
 */
export async function sealOf(s: { coloSecret?: string }): Promise<ColoSeal | null> {
  if (!s.coloSecret) return null;
  try {
    return await coloSeal(s.coloSecret);
  } catch (e) {
    console.error(`COLO_SHARE_SECRET: no seal (${(e as Error)?.message ?? e}); nothing is shared sealed through the colo cache`);
    return null;
  }
}

/** Where a sealed entry is read and written: the colo cache, the request's connection slots and its waitUntil. */
export interface SealedColo {
  colo?: Cache;
  slot<T>(read: () => Promise<T>): Promise<T>;
  defer(p: Promise<unknown>): void;
}

/** The bytes a seal covers: the entry's URL, then its body (a body moved to another URL does not verify). */
function sealedData(url: string, bytes: Uint8Array): Uint8Array {
  const head = enc.encode(`${url}\n`);
  const out = new Uint8Array(head.byteLength + bytes.byteLength);
  out.set(head);
  out.set(bytes, head.byteLength);
  return out;
}

/**
 * The body of the colo entry at `url`: null when there is none, it cannot be read, or (with a seal) its seal does
 * not verify. Without a seal the body is taken as it is (for entries whose reader checks them otherwise). `covers`:
 * the seal covers only the body's first `covers` bytes (a header that binds the rest, for bulk data that must not be
 * hashed on every read: the colo returns what was put, and only this deployment can put at its namespace's URLs).
 */
export async function getSealed(c: SealedColo, url: string, seal: ColoSeal | undefined, covers?: number): Promise<Uint8Array | null> {
  const colo = c.colo;
  if (!colo) return null;
  try {
    return await c.slot(async () => {
      const res = await colo.match(url);
      if (!res) return null;
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (covers !== undefined && bytes.byteLength < covers) return null;
      const signed = covers === undefined ? bytes : bytes.subarray(0, covers);
      if (seal && !(await seal.verify(sealedData(url, signed), res.headers.get("x-i3-seal") ?? ""))) return null;
      return bytes;
    });
  } catch {
    return null; // an unreadable copy is a miss
  }
}

/**
 * Puts `bytes` at `url` in the colo cache for good (immutable), sealed when a seal is given (its first `covers` bytes
 * only, when given: see getSealed); after the response.
 */
export function putSealed(c: SealedColo, url: string, seal: ColoSeal | undefined, bytes: Uint8Array, covers?: number): void {
  const colo = c.colo;
  if (!colo) return;
  c.defer((async () => {
    const headers: Record<string, string> = { "cache-control": "public, max-age=31536000, immutable", "content-type": "application/octet-stream" };
    if (seal) headers["x-i3-seal"] = await seal.seal(sealedData(url, covers === undefined ? bytes : bytes.subarray(0, covers)));
    await c.slot(() => colo.put(url, new Response(bytes, { headers })));
  })());
}
