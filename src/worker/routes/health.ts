// GET /healthz: the worker answers (no key needed; it reads nothing from R2).
import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "./app";
import { errorResponses } from "./responses";

const healthRoute = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["pages"],
  summary: "Health check",
  description: "Answers `{\"ok\": true}` while the worker runs.",
  responses: {
    200: { description: "The worker runs", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
    ...errorResponses(),
  },
});

/** Registers `GET /healthz`. */
export function registerHealth(app: App): void {
  app.openapi(healthRoute, (c) => c.json({ ok: true as const }, 200));
}
