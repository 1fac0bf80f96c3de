import { existsSync } from "node:fs";
import path from "node:path";
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import { PublishError, type PublishTarget } from "./target.ts";

/** Where `wrangler dev` keeps local state when `--persist-to` is not given (relative to the project root). */
export const DEFAULT_PERSIST_TO = ".wrangler/state";
/** The bucket of the worker's `INDEXES` binding in wrangler.toml. */
export const DEFAULT_BUCKET = "i3-indexes";

export interface LocalR2Options {
  /**
   * The same directory as `wrangler dev --persist-to`, resolved against `cwd`. Default: `.wrangler/state` next to
   * the nearest wrangler config above `cwd` (else in `cwd`), which is where `wrangler dev` puts it.
   */
  persistTo?: string;
  bucketName?: string;
  cwd?: string;
}

/**
 * A `PublishTarget` over the local R2 that `wrangler dev` reads: a Miniflare instance with R2 persisted at
 * `<persistTo>/v3/r2/<bucket>`, set up exactly as `wrangler r2 object put --local` does. Starts Miniflare on first
 * use; call `close()` when done. A known sha256 is passed to R2's put, which checks it.
 *
 * @example
 * const t = createLocalR2Target({ persistTo: ".wrangler/state" });
 * try { await t.put("k", bytes); } finally { await t.close?.(); }
 */
export function createLocalR2Target(options: LocalR2Options = {}): PublishTarget {
  const cwd = options.cwd ?? process.cwd();
  const persistTo = options.persistTo ? path.resolve(cwd, options.persistTo) : path.join(projectRoot(cwd), DEFAULT_PERSIST_TO);
  const bucketName = options.bucketName ?? DEFAULT_BUCKET;
  let mf: Miniflare | undefined;
  let bucket: Promise<R2Bucket> | undefined;

  function open(): Promise<R2Bucket> {
    if (!bucket) {
      mf = new Miniflare(
        convertV4MiniflareOptions({
          modules: true,
          script: "export default { fetch() { return new Response(null, { status: 404 }); } }",
          resourcePersistencePath: path.join(persistTo, "v3"),
          r2Buckets: { BUCKET: bucketName },
        }),
      );
      bucket = mf.getR2Bucket("BUCKET") as unknown as Promise<R2Bucket>;
    }
    return bucket;
  }

  async function call<T>(what: string, fn: (b: R2Bucket) => Promise<T>): Promise<T> {
    let b: R2Bucket;
    try {
      b = await open();
    } catch (e) {
      throw new PublishError("storage", `local R2 at ${persistTo}: could not start miniflare: ${String(e)}`, { cause: e });
    }
    try {
      return await fn(b);
    } catch (e) {
      if (e instanceof PublishError) throw e;
      throw new PublishError("storage", `local R2 ${what}: ${String(e)}`, { cause: e });
    }
  }

  return {
    describe: `local ${persistTo} (bucket ${bucketName})`,

    head: (key) =>
      call(`HEAD ${key}`, async (b) => {
        const o = await b.head(key);
        return o ? { size: o.size, etag: o.etag, uploaded: o.uploaded } : null;
      }),

    get: (key) =>
      call(`GET ${key}`, async (b) => {
        const o = await b.get(key);
        return o ? { bytes: new Uint8Array(await o.arrayBuffer()), etag: o.etag } : null;
      }),

    put: (key, bytes, opts = {}) =>
      call(`PUT ${key}`, async (b) => {
        const onlyIf =
          opts.ifMatch !== undefined
            ? { etagMatches: opts.ifMatch }
            : opts.ifNoneMatch !== undefined
              ? new Headers({ "if-none-match": opts.ifNoneMatch })
              : undefined;
        const o = await b.put(key, bytes, {
          httpMetadata: opts.contentType ? { contentType: opts.contentType } : undefined,
          onlyIf,
          sha256: opts.sha256,
        }).catch((e: unknown) => {
          if (opts.sha256 && /checksum|digest/i.test(String(e))) {
            throw new PublishError("invalid_build", `PUT ${key}: the bytes' sha256 is not the verified ${opts.sha256} (did the build change during the upload?)`, { cause: e });
          }
          throw e;
        });
        // R2's put answers null when `onlyIf` did not hold.
        if (!o) {
          const cond = opts.ifMatch !== undefined ? `If-Match ${opts.ifMatch}` : "If-None-Match *";
          throw new PublishError("precondition_failed", `PUT ${key}: ${cond} did not hold`);
        }
        return { etag: o.etag };
      }),

    async *list(prefix) {
      let cursor: string | undefined;
      do {
        const page = await call(`LIST ${prefix}`, (b) => b.list({ prefix, cursor }));
        for (const o of page.objects) yield o.key;
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
    },

    delete: (key) => call(`DELETE ${key}`, (b) => b.delete(key)),

    async close() {
      const m = mf;
      mf = undefined;
      bucket = undefined;
      await m?.dispose();
    },
  };
}

/** The directory of the nearest wrangler config at or above `dir`, else `dir`. */
function projectRoot(dir: string): string {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (["wrangler.toml", "wrangler.json", "wrangler.jsonc"].some((f) => existsSync(path.join(d, f)))) return d;
    if (path.dirname(d) === d) return path.resolve(dir);
  }
}
