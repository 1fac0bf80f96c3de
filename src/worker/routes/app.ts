import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AuthVariables } from "../auth";
import type { Env } from "../env";

/** Bindings and variables of a request in the worker. */
export type AppEnv = { Bindings: Env; Variables: AuthVariables };

/** The worker's app: every route is declared with `createRoute`, so the same schemas validate and document it. */
export type App = OpenAPIHono<AppEnv>;
