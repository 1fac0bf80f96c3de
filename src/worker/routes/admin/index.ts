// Publishing through the worker: the admin routes `i3 publish --to worker` writes through, behind a publish key.
//   PUT|GET|HEAD {index}/objects/<sha256>.<ext>   content-addressed, sha256 checked     (objects.ts)
//   PUT|GET|HEAD {index}/manifests/<version>      version = sha256(body)[0:16]          (manifests.ts)
//   PUT|GET|HEAD {index}/current                  conditional (If-Match / If-None-Match: *) (current.ts)
// Every key is built by src/format's key functions from validated names, so nothing leaves the tenant's prefix.
import type { App } from "../app";
import { registerCurrent } from "./current";
import { registerManifests } from "./manifests";
import { registerObjects } from "./objects";

export { ADMIN_LIMITS } from "./limits";

/** Registers the admin routes (the caller puts `requireKey("publish")` in front of them). */
export function registerAdminRoutes(app: App): void {
  registerObjects(app);
  registerManifests(app);
  registerCurrent(app);
}
