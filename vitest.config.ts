import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

const root = import.meta.dirname;

/**
 * Test-only service binding: serves repo files (fixtures, models, built test indexes) from Node to the worker
 * tests, which run inside workerd without a file system. `GET http://files/<repo-relative path>`.
 */
async function serveRepoFile(request: Request): Promise<Response> {
  const path = decodeURIComponent(new URL(request.url).pathname).replace(/^\/+/, "");
  const full = resolve(root, path);
  if (!full.startsWith(root + "/")) return new Response("outside repo", { status: 403 });
  try {
    return new Response(await readFile(full));
  } catch {
    return new Response(`not found: ${path}`, { status: 404 });
  }
}

// Two projects: `unit` runs in Node (format, tokenizer, metrics, offline tools);
// `worker` runs inside workerd through Cloudflare's vitest integration, against the R2 simulator.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/src/**/*.test.ts", "test/offline/**/*.test.ts", "test/helpers/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The search page in Chromium against `wrangler dev` (skipped, with a warning, where no Chromium is installed).
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/browser/global-setup.ts"],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // Tests re-read the pointer and key records on every request so that a publish or a revoke is seen at once.
            // The test files share one client (no CF-Connecting-IP) and make many failed authentications on purpose: the
            // per-client failure limit is tested with its own env (test/worker/auth-failures.test.ts), as is the optional
            // Rate Limiting binding, here under another name so that no other test meets it.
            miniflare: {
              serviceBindings: { REPO_FILES: serveRepoFile },
              bindings: { POINTER_TTL_MS: "0", KEY_CACHE_TTL_MS: "0", LOAD_RETRY_MS: "0", AUTH_FAILURES_PER_MINUTE: "1000000" },
              ratelimits: { TEST_AUTH_FAILURE_LIMITER: { namespace_id: "1001", simple: { limit: 2, period: 60 } } },
            },
          }),
        ],
        test: {
          name: "worker",
          // One workerd and one module graph for all the files: the app, onnxruntime-web and the loaded models are
          // imported once, not once per file (that first request cost seconds per file). Storage is shared too, so
          // each file publishes under its own tenant/index names (see test/worker/helpers.ts).
          isolate: false,
          globalSetup: ["test/worker/global-setup.ts"],
          include: ["test/worker/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
