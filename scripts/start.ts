/**
 * `npm start`: the whole product on one machine.
 *  1. builds the demo index from data/demo/scifact with the default model, unless it is built already;
 *  2. publishes it to the local R2 that `wrangler dev` reads (tenant "demo", index "scifact"; an unchanged
 *     build publishes nothing new);
 *  3. serves the worker on http://localhost:8787 (search page at /).
 * Options: --port <n> (default 8787), --rebuild, --model <models dir>, --no-serve (build + publish, then exit).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dirname, "..");
const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
    rebuild: { type: "boolean", default: false },
    model: { type: "string" },
    "no-serve": { type: "boolean", default: false },
  },
});

/** The shipped model the demo uses: the trained I^3 model when present, else the zero-shot backbone. */
function defaultModel(): string {
  const preferred = JSON.parse(readFileSync(join(root, "models", "default.json"), "utf8")).model as string;
  return join("models", preferred);
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: root, stdio: "inherit" });
    child.on("error", fail);
    child.on("exit", (code, signal) =>
      code === 0 ? ok() : fail(new Error(`${cmd} ${args.join(" ")} exited with ${signal ?? code}`)),
    );
  });
}

const tsx = join(root, "node_modules", ".bin", "tsx");
const model = opts.model ?? defaultModel();
const modelName = model.replace(/\/+$/, "").split("/").pop();
const buildDir = join("build", `demo-scifact-${modelName}`);

async function main() {
  if (opts.rebuild || !existsSync(join(root, buildDir, "manifest.json"))) {
    console.log(`[start] building the demo index (${model}) into ${buildDir} …`);
    await run(tsx, ["offline/cli.ts", "build", "--corpus", "data/demo/scifact/corpus.jsonl", "--model", model, "--out", buildDir, ...(opts.rebuild ? ["--force"] : [])]);
  } else {
    console.log(`[start] demo index already built: ${buildDir} (--rebuild to build again)`);
  }
  console.log("[start] publishing it to local R2 as demo/scifact …");
  await run(tsx, ["offline/cli.ts", "publish", buildDir, "--tenant", "demo", "--index", "scifact", "--to", "local"]);
  if (opts["no-serve"]) return;
  console.log(`[start] serving on http://localhost:${opts.port}  (search page: /, API: POST /v1/tenants/demo/indexes/scifact/search)`);
  await run(join(root, "node_modules", ".bin", "wrangler"), ["dev", "--port", String(opts.port), "--ip", "127.0.0.1"]);
}

main().catch((e) => {
  console.error(`[start] ${e.message}`);
  process.exit(1);
});
