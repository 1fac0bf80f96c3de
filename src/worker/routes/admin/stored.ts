// Reading back what was published: GET and HEAD of an object, a manifest or the pointer, as R2 stores it.
import type { Context, TypedResponse } from "hono";
import { z, type RouteConfig } from "@hono/zod-openapi";
import { ApiError } from "../../http-error";
import type { App, AppEnv } from "../app";

/**
 * An R2 object (or, for HEAD, its head) as a response with its etag and time; 404 `not_found` when absent. Typed as
 * the route's JSON: the stored bytes are the manifest or pointer the route's schema describes, streamed as they are.
 */
export async function serveStored(c: Context<AppEnv>, key: string, contentType: string): Promise<Response & TypedResponse<any, 200, "json">> {
  const obj = c.req.method === "HEAD" ? await c.env.INDEXES.head(key) : await c.env.INDEXES.get(key);
  if (!obj) throw new ApiError(404, "not_found", `${key.replace(/^tenants\/[^/]+\/indexes\/[^/]+\//, "")} does not exist`);
  const headers = {
    "content-type": contentType,
    "content-length": String(obj.size),
    etag: obj.httpEtag,
    "last-modified": obj.uploaded.toUTCString(),
  };
  return new Response("body" in obj ? (obj as R2ObjectBody).body : null, { status: 200, headers }) as Response & TypedResponse<any, 200, "json">;
}

/**
 * Documents the HEAD of a GET route: Hono answers HEAD with the GET handler (without the body), so HEAD needs no
 * route of its own, only its place in the OpenAPI document.
 */
export function documentHead(app: App, get: RouteConfig): void {
  const responses = Object.fromEntries(
    Object.entries(get.responses).map(([status, r]) => [status, "$ref" in r ? r : { description: r.description, headers: r.headers }]),
  );
  const { middleware: _, ...route } = get;
  app.openAPIRegistry.registerPath({ ...route, method: "head", summary: `${get.summary} (headers only)`, responses });
}

/** The headers of a stored object's GET and HEAD (what `i3 publish` and gc read). */
export const STORED_HEADERS = z.object({
  etag: z.string().openapi({ description: "R2's etag: `If-Match` of `PUT current` takes it" }),
  "last-modified": z.string().openapi({ description: "When it was uploaded (gc's grace period reads it)" }),
  "content-length": z.string(),
});
