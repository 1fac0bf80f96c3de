/**
 * `npm start`: the whole product on one machine.
 *  1. builds the demo index from data/demo/scifact with the default model, unless it is built already (by an
 *     `i3 build` that writes the current manifest version), with two
 *     filterable fields derived from each abstract (scripts/lib/demo-metadata.ts: `words` int, `topics` keyword[]);
 *     when it is built and the corpus has changed since, updates it incrementally (`i3 build --base --corpus`: only
 *     the documents that are new or changed are encoded; compacted past a tenth of the base);
 *  2. publishes it to the local R2 that `wrangler dev` reads (tenant "demo", index "scifact"; an unchanged
 *     build publishes nothing new);
 *  3. creates a search API key for tenant "demo" (or reuses the one it made before, kept in
 *     .wrangler/state/demo-key.txt while its record exists and is not revoked) and prints it with a curl line;
 *  4. serves the worker on http://localhost:8787 (search page at /).
 * Options: --port <n> (default 8787), --rebuild, --model <models dir>, --no-serve (build + publish, then exit).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEMO_FIELDS, writeDemoCorpus } from "./lib/demo-metadata.ts";
import { MANIFEST_VERSION } from "../src/format/manifest.ts";

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

/**
 * Whether the demo index must be built (again): missing, built before the demo had its fields, or written by an
 * older `i3 build` (an older manifest version: it lacks newer sections).
 */
function needsBuild(): boolean {
  const manifest = join(root, buildDir, "manifest.json");
  if (!existsSync(manifest)) return true;
  const m = JSON.parse(readFileSync(manifest, "utf8"));
  const older = m.version.major < MANIFEST_VERSION.major || (m.version.major === MANIFEST_VERSION.major && m.version.minor < MANIFEST_VERSION.minor);
  return older || m.fields === undefined;
}

async function main() {
  const corpus = join("build", "demo-scifact-corpus.jsonl");
  mkdirSync(join(root, "build"), { recursive: true }); // a fresh clone has no build/ yet
  writeDemoCorpus(join(root, "data/demo/scifact/corpus.jsonl"), join(root, corpus));
  if (opts.rebuild || needsBuild()) {
    console.log(`[start] building the demo index (${model}) into ${buildDir}, filterable by ${DEMO_FIELDS} …`);
    const force = opts.rebuild || existsSync(join(root, buildDir)) ? ["--force"] : [];
    await run(tsx, ["offline/cli.ts", "build", "--corpus", corpus, "--model", model, "--out", buildDir, "--fields", DEMO_FIELDS, ...force]);
  } else {
    // The corpus may have changed since the build: an update finds what did (and writes nothing when nothing did).
    console.log(`[start] demo index already built: ${buildDir}; checking data/demo/scifact for changes (--rebuild to build again) …`);
    const next = `${buildDir}.next`;
    rmSync(join(root, next), { recursive: true, force: true }); // left by an interrupted run
    try {
      await run(tsx, ["offline/cli.ts", "build", "--base", buildDir, "--corpus", corpus, "--model", model, "--out", next, "--compact-above", "0.1", "--force"]);
    } catch (e) {
      // The demo index cannot be updated (built with another model, an older format): build it again.
      console.log(`[start] updating failed (${(e as Error).message}); building the demo index again …`);
      await run(tsx, ["offline/cli.ts", "build", "--corpus", corpus, "--model", model, "--out", buildDir, "--fields", DEMO_FIELDS, "--force"]);
    }
    if (existsSync(join(root, next))) {
      rmSync(join(root, buildDir), { recursive: true, force: true });
      renameSync(join(root, next), join(root, buildDir));
      console.log(`[start] ${buildDir} updated`);
    }
  }
  console.log("[start] publishing it to local R2 as demo/scifact …");
  await run(tsx, ["offline/cli.ts", "publish", buildDir, "--tenant", "demo", "--index", "scifact", "--to", "local"]);
  const key = demoKey();
  const base = `http://localhost:${opts.port}`;
  console.log(`[start] demo search key (tenant demo, role search): ${key}`);
  console.log(`[start] try: curl -s ${base}/v1/tenants/demo/indexes/scifact/search -H 'authorization: Bearer ${key}' -d '{"query": "vitamin D and bone density", "k": 5}'`);
  console.log(`[start] filtered: -d '{"query": "vitamin D and bone density", "k": 5, "filter": {"topics": "trial", "words": {"$lt": 250}}}'`);
  if (opts["no-serve"]) return;
  console.log(`[start] serving on ${base}  (search page with the key filled in: ${base}/#key=${key})`);
  await run(join(root, "node_modules", ".bin", "wrangler"), ["dev", "--port", String(opts.port), "--ip", "127.0.0.1"]);
}

/** The demo tenant's search key: the one saved by an earlier start while it is still valid, else a new one. */
function demoKey(): string {
  const saved = join(root, ".wrangler", "state", "demo-key.txt");
  const i3 = (args: string[]) => execFileSync(tsx, ["offline/cli.ts", "keys", ...args, "--to", "local"], { cwd: root, encoding: "utf8" });
  if (existsSync(saved)) {
    const key = readFileSync(saved, "utf8").trim();
    const id = key.split("_").at(-2);
    const records = JSON.parse(i3(["list", "--tenant", "demo", "--json"])) as Array<{ id: string; revokedAt?: string }>;
    if (records.some((r) => r.id === id && !r.revokedAt)) return key;
  }
  const { key } = JSON.parse(i3(["create", "--tenant", "demo", "--roles", "search", "--name", "npm start demo", "--json"]));
  mkdirSync(join(root, ".wrangler", "state"), { recursive: true });
  writeFileSync(saved, `${key}\n`, { mode: 0o600 });
  return key;
}

main().catch((e) => {
  console.error(`[start] ${e.message}`);
  process.exit(1);
});
